// Node.js pg through klusterctl proxy: DDL, parameterized writes, its own writes read back, 23505.
// Usage: node pg_test.js URL TABLE. Prints OK at the end.
const { Client } = require('pg');

async function main(url, table) {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE TABLE ${table} (id int PRIMARY KEY, name text NOT NULL, amount numeric, at timestamptz, ok boolean)`);
    for (let i = 1; i <= 5; i++) {
      const r = await client.query(`INSERT INTO ${table} VALUES ($1, $2, $3, $4, $5)`,
                                   [i, `name ${i}`, `${i}.5`, new Date(Date.UTC(2024, 0, i, 12)), i % 2 === 0]);
      if (r.rowCount !== 1 || r.command !== 'INSERT') throw new Error(`insert: ${r.command} ${r.rowCount}`);
    }
    const u = await client.query(`UPDATE ${table} SET ok = NOT ok WHERE id >= $1`, [4]);
    if (u.rowCount !== 2) throw new Error(`update rowCount ${u.rowCount}`);
    const rows = (await client.query(`SELECT id, name, amount, at, ok FROM ${table} ORDER BY id`)).rows;
    if (rows.length !== 5) throw new Error(`rows ${rows.length}`);
    const r3 = rows[2];
    if (r3.id !== 3 || r3.name !== 'name 3' || r3.amount !== '3.5' || r3.at.getTime() !== Date.UTC(2024, 0, 3, 12) || r3.ok !== false)
      throw new Error(`row 3: ${JSON.stringify(r3)}`);
    if (rows[3].ok !== false) throw new Error(`row 4: ${JSON.stringify(rows[3])}`);
    try {
      await client.query(`INSERT INTO ${table} (id, name) VALUES ($1, $2)`, [1, 'again']);
      throw new Error('duplicate key accepted');
    } catch (e) {
      if (e.code !== '23505') throw e;
    }
  } finally {
    await client.end();
  }
  console.log('OK');
}

main(process.argv[2], process.argv[3]).catch((e) => { console.error(e); process.exit(1); });
