package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/sluice-io/sluice/internal/leaf"
	"github.com/sluice-io/sluice/internal/store"
)

// Schema lists a project's collections (its tables) and, per property, the
// leaf types of the columns its table has: a column is added when a value
// of its type first arrives and kept when events are deleted.
func (s *Store) Schema(ctx context.Context, project string) ([]store.Collection, error) {
	prefix := tablePrefix(project)
	q := "SELECT table, name FROM system.columns WHERE database = " + str(unquote(s.db)) +
		" AND substring(table, 1, " + fmt.Sprint(len(prefix)) + ") = " + str(prefix) + " ORDER BY table"
	byTable := map[string]*store.Collection{}
	var out []store.Collection
	var names []string
	err := s.each(ctx, q, func(scan func(...any) error) error {
		var tbl, col string
		if err := scan(&tbl, &col); err != nil {
			return err
		}
		c := byTable[tbl]
		if c == nil {
			name, ok := dec(tbl[len(prefix):])
			if !ok {
				return nil // not a collection table
			}
			c = &store.Collection{Name: name, Properties: map[string][]string{
				"keen.timestamp":  {leaf.String},
				"keen.created_at": {leaf.String},
			}}
			byTable[tbl] = c
			names = append(names, tbl)
		}
		k, ok := columnKey(col)
		if !ok {
			return nil
		}
		path, typ := leaf.SplitKey(k)
		p := strings.Join(path, ".")
		c.Properties[p] = append(c.Properties[p], typ)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse store: reading the schema of project %s: %w", project, err)
	}
	for _, t := range names {
		c := byTable[t]
		for _, ts := range c.Properties {
			slices.Sort(ts)
		}
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b store.Collection) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
