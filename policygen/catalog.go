package policygen

import (
	"encoding/json"
	"sort"

	"google.golang.org/protobuf/compiler/protogen"
)

// CatalogVersion is the schema version of the JSON permission catalog.
const CatalogVersion = 1

// Catalog is the machine-readable permission catalog: every permission,
// where it is required, and every public method with its reason. Reviewers
// and the gateway read it; docs/permission-catalog.md describes it.
type Catalog struct {
	Version       int                 `json:"version"`
	Generator     string              `json:"generator"`
	Permissions   []CatalogPermission `json:"permissions"`
	PublicMethods []CatalogPublic     `json:"public_methods"`
}

// CatalogPermission is one permission of the catalog.
type CatalogPermission struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	File        string         `json:"file"`
	Sensitive   bool           `json:"sensitive"`
	Internal    bool           `json:"internal"`
	RequiredBy  []CatalogUsage `json:"required_by"`
}

// CatalogUsage is one method that requires a permission.
type CatalogUsage struct {
	Method      string `json:"method"`
	Match       string `json:"match"`
	Sensitivity string `json:"sensitivity"`
}

// CatalogPublic is one public method.
type CatalogPublic struct {
	Method string `json:"method"`
	Reason string `json:"reason"`
}

func buildCatalog(outputs []*fileOutput) *Catalog {
	c := &Catalog{Version: CatalogVersion, Generator: "protoc-gen-portcullis " + Version,
		Permissions: []CatalogPermission{}, PublicMethods: []CatalogPublic{}}
	index := map[string]int{}
	for _, o := range outputs {
		for _, p := range o.permissions {
			index[p.Name] = len(c.Permissions)
			c.Permissions = append(c.Permissions, CatalogPermission{
				Name: p.Name, Description: p.Description, File: p.File,
				Sensitive: p.Sensitive, Internal: p.Internal, RequiredBy: []CatalogUsage{},
			})
		}
	}
	for _, o := range outputs {
		for _, gm := range o.methods {
			m := gm.runtime
			if m.Public {
				c.PublicMethods = append(c.PublicMethods, CatalogPublic{Method: m.FullMethod, Reason: m.PublicReason})
				continue
			}
			for _, name := range m.Permissions {
				// Permissions declared in an imported file that is not
				// generated in this run are listed by name.
				i, ok := index[name]
				if !ok {
					i = len(c.Permissions)
					index[name] = i
					c.Permissions = append(c.Permissions, CatalogPermission{Name: name, RequiredBy: []CatalogUsage{}})
				}
				c.Permissions[i].RequiredBy = append(c.Permissions[i].RequiredBy, CatalogUsage{
					Method: m.FullMethod, Match: m.Match.String(), Sensitivity: m.Sensitivity.String(),
				})
			}
		}
	}
	sort.Slice(c.Permissions, func(i, j int) bool { return c.Permissions[i].Name < c.Permissions[j].Name })
	for _, p := range c.Permissions {
		sort.Slice(p.RequiredBy, func(i, j int) bool { return p.RequiredBy[i].Method < p.RequiredBy[j].Method })
	}
	sort.Slice(c.PublicMethods, func(i, j int) bool { return c.PublicMethods[i].Method < c.PublicMethods[j].Method })
	return c
}

func emitCatalog(gen *protogen.Plugin, path string, outputs []*fileOutput) error {
	data, err := json.MarshalIndent(buildCatalog(outputs), "", "  ")
	if err != nil {
		return err
	}
	g := gen.NewGeneratedFile(path, "")
	_, err = g.Write(append(data, '\n'))
	return err
}
