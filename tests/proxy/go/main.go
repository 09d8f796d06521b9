// Go pgx v5 through klusterctl proxy: DDL, writes with typed parameters in pgx's binary format (pgx
// describes each statement first), a batch, its own writes read back, a unique violation seen as 23505.
// Usage: pgx_test URL TABLE. Prints OK at the end.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func check(err error, what string) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
		os.Exit(1)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	url, table := os.Args[1], os.Args[2]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	check(err, "connect")
	defer conn.Close(ctx)

	_, err = conn.Exec(ctx, fmt.Sprintf("CREATE TABLE %s (id bigint PRIMARY KEY, name text NOT NULL, amount numeric(12,2), "+
		"at timestamptz, flag boolean, uid uuid, data bytea, small int)", table))
	check(err, "create table")
	when := time.Date(2024, 5, 6, 7, 8, 9, 123000000, time.UTC)
	insert := fmt.Sprintf("INSERT INTO %s VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", table)
	for i := int64(1); i <= 5; i++ {
		uid := [16]byte{15: byte(i)}
		tag, err := conn.Exec(ctx, insert, i, fmt.Sprintf("name %d", i), float64(i)+0.25, when.Add(time.Duration(i)*time.Hour),
			i%2 == 0, uid, []byte{0, byte(i), 255}, int32(i*10))
		check(err, "insert")
		if tag.RowsAffected() != 1 || !tag.Insert() {
			fail("insert tag %q", tag.String())
		}
	}
	// A batch: pgx sends every query of it in one round trip.
	batch := &pgx.Batch{}
	for i := int64(6); i <= 8; i++ {
		batch.Queue(fmt.Sprintf("INSERT INTO %s (id, name) VALUES ($1, $2)", table), i, fmt.Sprintf("batch %d", i))
	}
	check(conn.SendBatch(ctx, batch).Close(), "batch")

	tag, err := conn.Exec(ctx, fmt.Sprintf("UPDATE %s SET flag = NOT flag WHERE id >= $1 AND id <= $2", table), int64(4), int64(5))
	check(err, "update")
	if tag.RowsAffected() != 2 {
		fail("update affected %d rows", tag.RowsAffected())
	}

	var (
		name  string
		amt   float64
		at    time.Time
		flag  bool
		uid   [16]byte
		data  []byte
		small int32
	)
	err = conn.QueryRow(ctx, fmt.Sprintf("SELECT name, amount, at, flag, uid, data, small FROM %s WHERE id = $1", table), int64(4)).
		Scan(&name, &amt, &at, &flag, &uid, &data, &small)
	check(err, "select row 4")
	if name != "name 4" || amt != 4.25 || !at.Equal(when.Add(4*time.Hour)) || flag || uid[15] != 4 ||
		!bytes.Equal(data, []byte{0, 4, 255}) || small != 40 {
		fail("row 4: %v %v %v %v %v %v %v", name, amt, at, flag, uid, data, small)
	}
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT id, name FROM %s WHERE id > $1 ORDER BY id", table), int64(5))
	check(err, "select batch rows")
	ids, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (int64, error) {
		var id int64
		var n string
		err := row.Scan(&id, &n)
		if err == nil && n != fmt.Sprintf("batch %d", id) {
			err = fmt.Errorf("row %d is named %q", id, n)
		}
		return id, err
	})
	check(err, "collect")
	if len(ids) != 3 || ids[0] != 6 || ids[2] != 8 {
		fail("batch rows %v", ids)
	}

	_, err = conn.Exec(ctx, fmt.Sprintf("INSERT INTO %s (id, name) VALUES ($1, $2)", table), int64(1), "again")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		fail("duplicate key: %v", err)
	}
	var count int64
	check(conn.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s", table)).Scan(&count), "count")
	if count != 8 {
		fail("count %d", count)
	}
	fmt.Println("OK")
}
