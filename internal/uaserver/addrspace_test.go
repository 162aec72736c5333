package uaserver

import (
	"fmt"
	"testing"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/mapping"
)

// TestTypeInverseReferences: the tag table's HasTypeDefinition references
// are stored forward only; browsing a type node inversely still lists
// every instance (namespace 0's first, then the tags' in path order), and
// TranslateBrowsePaths follows them.
func TestTypeInverseReferences(t *testing.T) {
	t.Parallel()
	store := mapping.NewStore()
	rng := [2]float64{0, 100}
	tbl := &mapping.Table{Tags: []*mapping.Tag{
		{Path: "B/T2", Type: drivers.Float64, Entry: store.Entry("B/T2")},
		{Path: "A/T1", Type: drivers.Float64, Entry: store.Entry("A/T1")},
		{Path: "A/Analog", Type: drivers.Float64, Range: &rng, Unit: "degC", Entry: store.Entry("A/Analog")},
	}}
	info := &serverInfo{namespaces: []string{"http://opcfoundation.org/UA/", "urn:t"}, appURI: "urn:t",
		start: time.Now(), now: time.Now, limits: Limits{}.withDefaults()}
	sp, _ := buildSpace(info, tbl)
	inverse := func(typ uint32) []string {
		refs, st := browseRefs(sp, &ua.BrowseDescription{
			NodeID: ua.NewNumericNodeID(0, typ), BrowseDirection: ua.BrowseDirectionInverse,
			ReferenceTypeID: ua.NewNumericNodeID(0, id.HasTypeDefinition), ResultMask: uint32(ua.BrowseResultMaskAll),
		})
		if st != ua.StatusOK {
			t.Fatal(st)
		}
		var out []string
		for _, r := range refs {
			if r.IsForward || r.ReferenceTypeID.IntID() != id.HasTypeDefinition {
				t.Errorf("%v: not an inverse HasTypeDefinition", r)
			}
			out = append(out, r.NodeID.NodeID.String())
		}
		return out
	}
	for _, tc := range []struct {
		typ  uint32
		want string
	}{
		{id.AnalogItemType, "[ns=1;s=A/Analog]"},
		{id.PropertyType, "[i=2254 i=2255 i=2267 i=2994 i=11705 i=11707 i=11710 i=11714 i=11712 i=11711 i=2735 ns=1;s=A/Analog#EURange ns=1;s=A/Analog#EngineeringUnits]"},
		{id.FolderType, "[i=84 i=85 i=86 i=87 i=88 i=89 i=90 i=91 ns=1;s=A ns=1;s=B]"},
	} {
		if got := fmt.Sprint(inverse(tc.typ)); got != tc.want {
			t.Errorf("inverse of %d:\n got %s\nwant %s", tc.typ, got, tc.want)
		}
	}
	bdv := inverse(id.BaseDataVariableType)
	if n := len(bdv); n < 3 || bdv[n-2] != "ns=1;s=A/T1" || bdv[n-1] != "ns=1;s=B/T2" {
		t.Errorf("inverse of BaseDataVariableType ends %v, want the tags A/T1, B/T2 last", bdv)
	}
	// Both directions of a tag variable: its parent and its type.
	refs, _ := browseRefs(sp, &ua.BrowseDescription{NodeID: nid("A/T1"), BrowseDirection: ua.BrowseDirectionBoth, ResultMask: uint32(ua.BrowseResultMaskAll)})
	if got := fmt.Sprintf("%d %s %v %d", len(refs), refs[0].BrowseName.Name, refs[0].IsForward, refs[1].NodeID.NodeID.IntID()); got != "2 A false 63" {
		t.Errorf("references of A/T1: %s", got)
	}
	res := translateOne(sp, &ua.BrowsePath{StartingNode: ua.NewNumericNodeID(0, id.AnalogItemType), RelativePath: &ua.RelativePath{
		Elements: []*ua.RelativePathElement{{ReferenceTypeID: ua.NewNumericNodeID(0, id.HasTypeDefinition), IsInverse: true,
			TargetName: &ua.QualifiedName{NamespaceIndex: nsApp, Name: "Analog"}}},
	}})
	if res.StatusCode != ua.StatusOK || len(res.Targets) != 1 || res.Targets[0].TargetID.NodeID.StringID() != "A/Analog" {
		t.Errorf("translate inverse HasTypeDefinition: %v %v", res.StatusCode, res.Targets)
	}
	// Names of a tag variable come from its path.
	n := sp.node(nid("A/Analog"))
	if n.browseName().Name != "Analog" || n.browseName().NamespaceIndex != nsApp || n.displayName().Text != "Analog" || n.nodeID().StringID() != "A/Analog" {
		t.Errorf("names of A/Analog: %v %v %v", n.browseName(), n.displayName(), n.nodeID())
	}
}
