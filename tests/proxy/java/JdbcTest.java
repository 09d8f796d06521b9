// Java pgjdbc through klusterctl proxy: plain JDBC in autocommit, prepared statements with parameters of
// several types (past pgjdbc's prepareThreshold, so both unnamed and named server-side statements),
// executeBatch, its own writes read back, a unique violation seen as 23505, Statement.cancel() of a read in
// flight seen as 57014 with the connection usable after it; then autocommit=false: a transaction that reads,
// updates from what it read and commits, and one rolled back.
// Usage: java -cp CLASSPATH JdbcTest URL TABLE. Prints OK at the end.
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.util.Arrays;
import java.util.UUID;

public class JdbcTest {
  static void check(boolean ok, String what) {
    if (!ok) throw new AssertionError(what);
  }

  public static void main(String[] args) throws Exception {
    String url = args[0], table = args[1];
    try (Connection conn = DriverManager.getConnection(url)) {
      check(conn.getAutoCommit(), "autocommit");
      try (Statement st = conn.createStatement()) {
        st.execute("CREATE TABLE " + table + " (id int PRIMARY KEY, big bigint, name text NOT NULL, amount numeric(12,2), "
            + "flag boolean, at timestamp, uid uuid, data bytea)");
      }
      Timestamp when = Timestamp.valueOf("2024-05-06 07:08:09.123");
      String insert = "INSERT INTO " + table + " VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
      try (PreparedStatement ps = conn.prepareStatement(insert)) {
        for (int i = 1; i <= 6; i++) { // pgjdbc prepares server-side from the 5th execution
          bind(ps, i, when);
          check(ps.executeUpdate() == 1, "insert " + i);
        }
        for (int i = 7; i <= 10; i++) {
          bind(ps, i, when);
          ps.addBatch();
        }
        int[] counts = ps.executeBatch();
        check(counts.length == 4, "batch size " + counts.length);
        for (int c : counts) check(c == 1 || c == Statement.SUCCESS_NO_INFO, "batch count " + Arrays.toString(counts));
      }
      try (PreparedStatement ps = conn.prepareStatement("UPDATE " + table + " SET name = upper(name) WHERE id > ?")) {
        ps.setInt(1, 8);
        check(ps.executeUpdate() == 2, "update count");
      }
      try (PreparedStatement ps = conn.prepareStatement(
               "SELECT id, big, name, amount, flag, at, uid, data FROM " + table + " WHERE id = ? AND name <> ?")) {
        for (int i : new int[] {3, 9, 3, 9, 3, 9}) { // again past the threshold
          ps.setInt(1, i);
          ps.setString(2, "nobody");
          try (ResultSet rs = ps.executeQuery()) {
            check(rs.next(), "row " + i);
            check(rs.getInt(1) == i, "id");
            check(rs.getLong(2) == 10_000_000_000L + i, "big " + rs.getLong(2));
            check(rs.getString(3).equals((i > 8 ? "NAME " : "name ") + i), "name " + rs.getString(3));
            check(rs.getBigDecimal(4).compareTo(new BigDecimal(i + ".25")) == 0, "amount " + rs.getBigDecimal(4));
            check(rs.getBoolean(5) == (i % 2 == 0), "flag");
            check(rs.getTimestamp(6).equals(new Timestamp(when.getTime() + i * 1000L)), "at " + rs.getTimestamp(6));
            check(rs.getObject(7, UUID.class).equals(new UUID(0, i)), "uid " + rs.getObject(7));
            check(Arrays.equals(rs.getBytes(8), new byte[] {0, (byte) i, (byte) 255}), "data");
            check(!rs.next(), "one row");
          }
        }
      }
      try (PreparedStatement ps = conn.prepareStatement("INSERT INTO " + table + " (id, name) VALUES (?, ?)")) {
        ps.setInt(1, 1);
        ps.setString(2, "again");
        ps.executeUpdate();
        throw new AssertionError("duplicate key accepted");
      } catch (SQLException e) {
        check("23505".equals(e.getSQLState()), "SQLSTATE " + e.getSQLState() + ": " + e.getMessage());
      }
      try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*) FROM " + table)) {
        check(rs.next() && rs.getLong(1) == 10, "count");
      }
      // Statement.cancel() from another thread while a read runs on a node: 57014, and the connection goes on.
      try (Statement st = conn.createStatement()) {
        Thread canceller = new Thread(() -> {
          try {
            Thread.sleep(500);
            st.cancel();
          } catch (Exception e) {
            throw new RuntimeException(e);
          }
        });
        long started = System.nanoTime();
        canceller.start();
        try {
          st.executeQuery("SELECT pg_sleep(5)");
          throw new AssertionError("the read was not cancelled");
        } catch (SQLException e) {
          check("57014".equals(e.getSQLState()), "SQLSTATE " + e.getSQLState() + ": " + e.getMessage());
        }
        canceller.join();
        check(System.nanoTime() - started < 4_000_000_000L, "cancelled late");
        try (ResultSet rs = st.executeQuery("SELECT count(*) FROM " + table)) {
          check(rs.next() && rs.getLong(1) == 10, "count after the cancel");
        }
      }
      // autocommit=false, as most JDBC code runs: read, update from what was read, read it back, commit; then a
      // delete rolled back.
      conn.setAutoCommit(false);
      long big;
      try (PreparedStatement ps = conn.prepareStatement("SELECT big FROM " + table + " WHERE id = ?")) {
        ps.setInt(1, 1);
        try (ResultSet rs = ps.executeQuery()) {
          check(rs.next(), "row 1");
          big = rs.getLong(1);
        }
      }
      try (PreparedStatement ps = conn.prepareStatement("UPDATE " + table + " SET big = ? WHERE id = ?")) {
        ps.setLong(1, big + 1);
        ps.setInt(2, 1);
        check(ps.executeUpdate() == 1, "update in the transaction");
      }
      try (Statement st = conn.createStatement();
           ResultSet rs = st.executeQuery("SELECT big FROM " + table + " WHERE id = 1")) {
        check(rs.next() && rs.getLong(1) == big + 1, "the transaction's own write");
      }
      conn.commit();
      try (Statement st = conn.createStatement()) {
        check(st.executeUpdate("DELETE FROM " + table + " WHERE id = 2") == 1, "delete in the transaction");
      }
      conn.rollback();
      try (Statement st = conn.createStatement();
           ResultSet rs = st.executeQuery("SELECT count(*), max(big) FILTER (WHERE id = 1) FROM " + table)) {
        check(rs.next() && rs.getLong(1) == 10 && rs.getLong(2) == big + 1, "after the commit and the rollback");
      }
      conn.commit();
    }
    System.out.println("OK");
  }

  static void bind(PreparedStatement ps, int i, Timestamp when) throws SQLException {
    ps.setInt(1, i);
    ps.setLong(2, 10_000_000_000L + i);
    ps.setString(3, "name " + i);
    ps.setBigDecimal(4, new BigDecimal(i + ".25"));
    ps.setBoolean(5, i % 2 == 0);
    ps.setTimestamp(6, new Timestamp(when.getTime() + i * 1000L));
    ps.setObject(7, new UUID(0, i));
    ps.setBytes(8, new byte[] {0, (byte) i, (byte) 255});
  }
}
