package duckdb

import "github.com/sluice-io/sluice/internal/leaf"

// Each typed leaf of the events (package leaf) has a column of its own.
// The physical column names are generated (c1, c2, …, see duck.go): DuckDB
// identifiers are case-insensitive, property names are not.
var sqlTypes = map[string]string{
	leaf.String: "VARCHAR", leaf.Number: "DOUBLE", leaf.Bool: "BOOLEAN",
	leaf.Null:     "BOOLEAN", // true where the property is JSON null
	leaf.StrArray: "VARCHAR[]", leaf.JSONArray: "VARCHAR",
}

// keenColumns are the SQL expressions that stand for the fields
// leaf.IsOwnKeenField leaves out, as the strings the events' JSON holds
// (keen.timestamp and keen.created_at: UTC, milliseconds, "Z"). Filters on
// them compile as on any string column.
var keenColumns = map[string]string{
	leaf.Key(leaf.KeenPrefix+"id", leaf.String):         "_id",
	leaf.Key(leaf.KeenPrefix+"timestamp", leaf.String):  "strftime(_ts, '%Y-%m-%dT%H:%M:%S.%gZ')",
	leaf.Key(leaf.KeenPrefix+"created_at", leaf.String): "strftime(_created, '%Y-%m-%dT%H:%M:%S.%gZ')",
}
