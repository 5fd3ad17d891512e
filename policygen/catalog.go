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
		for _, e := range o.permissions {
			index[e.perm.GetName()] = len(c.Permissions)
			c.Permissions = append(c.Permissions, CatalogPermission{
				Name: e.perm.GetName(), Description: e.perm.GetDescription(), File: e.file,
				Sensitive: e.perm.GetSensitive(), Internal: e.perm.GetInternal(), RequiredBy: []CatalogUsage{},
			})
		}
	}
	for _, o := range outputs {
		for _, m := range o.methods {
			p := m.policy
			if p.Public != nil {
				c.PublicMethods = append(c.PublicMethods, CatalogPublic{Method: fullMethod(m), Reason: p.Public.GetReason()})
				continue
			}
			match := "all"
			if p.Require.GetMatch() == 2 {
				match = "any"
			}
			for _, name := range p.Require.GetPermissions() {
				// Permissions declared outside the generated files (in an
				// imported file that is not generated) are listed too.
				i, ok := index[name]
				if !ok {
					index[name] = len(c.Permissions)
					i = index[name]
					c.Permissions = append(c.Permissions, CatalogPermission{Name: name, RequiredBy: []CatalogUsage{}})
				}
				c.Permissions[i].RequiredBy = append(c.Permissions[i].RequiredBy, CatalogUsage{
					Method: fullMethod(m), Match: match, Sensitivity: sensitivityName(p.Sensitivity.String()),
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

// sensitivityName turns "SENSITIVITY_RESTRICTED" into "restricted".
func sensitivityName(enum string) string {
	switch enum {
	case "SENSITIVITY_PUBLIC":
		return "public"
	case "SENSITIVITY_CONFIDENTIAL":
		return "confidential"
	case "SENSITIVITY_RESTRICTED":
		return "restricted"
	default:
		return "internal"
	}
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
