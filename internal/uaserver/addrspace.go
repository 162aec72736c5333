package uaserver

import (
	"iter"
	"sort"
	"strings"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/mapping"
)

// nsApp is the namespace index of the server's own nodes: NamespaceArray[1]
// is always the application URI (Part 5, 6.3.13 requires index 1 to be the
// server's URI), so a tag's NodeId is ns=1;s=<path>.
const nsApp = 1

// nodeKey identifies a node in the map: numeric or string identifiers only
// (we never create GUID or opaque ids).
type nodeKey struct {
	ns  uint16
	num uint32
	str string
}

func keyOf(n *ua.NodeID) (nodeKey, bool) {
	if n == nil {
		return nodeKey{}, false
	}
	switch n.Type() {
	case ua.NodeIDTypeTwoByte, ua.NodeIDTypeFourByte, ua.NodeIDTypeNumeric:
		return nodeKey{ns: n.Namespace(), num: n.IntID()}, true
	case ua.NodeIDTypeString:
		return nodeKey{ns: n.Namespace(), str: n.StringID()}, true
	}
	return nodeKey{}, false
}

// ref is one reference of a node. Both directions are stored so that inverse
// browsing and TranslateBrowsePaths need no search.
type ref struct {
	typ     uint32 // ns0 numeric id of the reference type
	forward bool
	to      *node
}

// node is one node of the address space. Nodes are immutable once the space
// is built; SetTable builds a new space instead of editing this one.
//
// A tag's variable has no id, name or display: they follow from its tag
// path and are built when a client asks (nodeID, browseName, displayName),
// which saves about 120 bytes per tag.
type node struct {
	id      *ua.NodeID
	class   ua.NodeClass
	name    *ua.QualifiedName
	display *ua.LocalizedText
	desc    *ua.LocalizedText
	refs    []ref
	typeDef *node // HasTypeDefinition target (objects, variables)

	// Variable and VariableType.
	dataType  *ua.NodeID
	valueRank int32
	access    byte
	minSample float64
	tag       *mapping.Tag       // value from the store (our variables)
	static    *ua.Variant        // fixed value (properties, ns0 constants)
	dyn       func() *ua.Variant // computed value (CurrentTime, ServerStatus)

	// Types.
	abstract    bool
	symmetric   bool
	inverseName string
}

// space is one immutable address space: namespace 0 plus the tag table.
type space struct {
	nodes map[nodeKey]*node
	// subtypes[t] holds t and every reference type derived from it.
	subtypes map[uint32]map[uint32]bool
	tags     int
	// typed holds the nodes of the tag table (variables, properties,
	// folders) in the order they were built. Their HasTypeDefinition
	// references are stored forward only: the inverse ones would give
	// BaseDataVariableType a list as long as the tag table. refs derives
	// them from this list when a type node is browsed.
	typed []*node
	// dataTypes shares one DataType NodeId per type among the variables.
	dataTypes map[uint32]*ua.NodeID
}

// refs yields the references of n: the stored ones, then (for a type node)
// the derived inverse HasTypeDefinition references of the tag table's
// nodes, in the order link would have stored them.
func (sp *space) refs(n *node) iter.Seq[ref] {
	return func(yield func(ref) bool) {
		for _, r := range n.refs {
			if !yield(r) {
				return
			}
		}
		if n.class != ua.NodeClassObjectType && n.class != ua.NodeClassVariableType {
			return
		}
		for _, x := range sp.typed {
			if x.typeDef == n && !yield(ref{typ: id.HasTypeDefinition, to: x}) {
				return
			}
		}
	}
}

// linkType sets the type definition of a node of the tag table: a forward
// reference only (see typed).
func (sp *space) linkType(n, typ *node) {
	n.refs = append(n.refs, ref{typ: id.HasTypeDefinition, forward: true, to: typ})
	n.typeDef = typ
	sp.typed = append(sp.typed, n)
}

// dataTypeID is the shared NodeId of a ns0 DataType.
func (sp *space) dataTypeID(dt uint32) *ua.NodeID {
	n := sp.dataTypes[dt]
	if n == nil {
		n = ua.NewNumericNodeID(0, dt)
		sp.dataTypes[dt] = n
	}
	return n
}

func (sp *space) node(n *ua.NodeID) *node {
	k, ok := keyOf(n)
	if !ok {
		return nil
	}
	return sp.nodes[k]
}

func (sp *space) num(i uint32) *node { return sp.nodes[nodeKey{num: i}] }

func (sp *space) add(n *node) *node {
	sp.nodes[n.key()] = n
	return n
}

// key is n's key in the node map.
func (n *node) key() nodeKey {
	if n.id == nil {
		return nodeKey{ns: nsApp, str: n.tag.Path}
	}
	k, _ := keyOf(n.id)
	return k
}

func (n *node) nodeID() *ua.NodeID {
	if n.id == nil {
		return ua.NewStringNodeID(nsApp, n.tag.Path)
	}
	return n.id
}

// leaf is the last segment of a tag variable's path.
func (n *node) leaf() string {
	p := n.tag.Path
	return p[strings.LastIndexByte(p, '/')+1:]
}

func (n *node) browseName() *ua.QualifiedName {
	if n.id == nil {
		return &ua.QualifiedName{NamespaceIndex: nsApp, Name: n.leaf()}
	}
	return n.name
}

// hasName reports whether n's BrowseName is q, without building it.
func (n *node) hasName(q *ua.QualifiedName) bool {
	if n.id == nil {
		return q.NamespaceIndex == nsApp && q.Name == n.leaf()
	}
	return n.name.Name == q.Name && n.name.NamespaceIndex == q.NamespaceIndex
}

func (n *node) displayName() *ua.LocalizedText {
	if n.id == nil {
		return ua.NewLocalizedText(n.leaf())
	}
	return n.display
}

// link adds a forward reference from -> to and its inverse.
func (sp *space) link(from *node, typ uint32, to *node) {
	from.refs = append(from.refs, ref{typ: typ, forward: true, to: to})
	to.refs = append(to.refs, ref{typ: typ, forward: false, to: from})
	if typ == id.HasTypeDefinition {
		from.typeDef = to
	}
}

// isSubtype reports whether reference type t is base or derived from it.
func (sp *space) isSubtype(t, base uint32) bool { return sp.subtypes[base][t] }

func (sp *space) computeSubtypes() {
	sp.subtypes = map[uint32]map[uint32]bool{}
	for k, n := range sp.nodes {
		if k.ns != 0 || n.class != ua.NodeClassReferenceType {
			continue
		}
		set := map[uint32]bool{}
		var walk func(x *node)
		walk = func(x *node) {
			set[x.id.IntID()] = true
			for _, r := range x.refs {
				if r.forward && r.typ == id.HasSubtype {
					walk(r.to)
				}
			}
		}
		walk(n)
		sp.subtypes[k.num] = set
	}
}

// dataTypeOf maps an engineering type to its ns0 DataType id and the
// Variant type a client must write.
func dataTypeOf(t drivers.Type) (uint32, ua.TypeID) {
	switch t {
	case drivers.Bool:
		return id.Boolean, ua.TypeIDBoolean
	case drivers.Int16:
		return id.Int16, ua.TypeIDInt16
	case drivers.Uint16, drivers.BCD16:
		return id.UInt16, ua.TypeIDUint16
	case drivers.Int32:
		return id.Int32, ua.TypeIDInt32
	case drivers.Uint32, drivers.BCD32:
		return id.UInt32, ua.TypeIDUint32
	case drivers.Int64:
		return id.Int64, ua.TypeIDInt64
	case drivers.Uint64:
		return id.UInt64, ua.TypeIDUint64
	case drivers.Float32:
		return id.Float, ua.TypeIDFloat
	case drivers.Float64:
		return id.Double, ua.TypeIDDouble
	case drivers.String:
		return id.String, ua.TypeIDString
	}
	return id.BaseDataType, ua.TypeIDVariant
}

// buildSpace builds namespace 0 and the nodes of tbl. Tags whose path
// collides with a folder of another tag are skipped and returned so the
// caller can log them (config validation should have refused them).
func buildSpace(info *serverInfo, tbl *mapping.Table) (*space, []string) {
	sp := &space{nodes: make(map[nodeKey]*node, nodeHint(tbl)), dataTypes: map[uint32]*ua.NodeID{}}
	buildNS0(sp, info)
	sp.computeSubtypes()

	objects := sp.num(id.ObjectsFolder)
	folderType := sp.num(id.FolderType)
	varType := sp.num(id.BaseDataVariableType)
	analogType := sp.num(id.AnalogItemType)
	propType := sp.num(id.PropertyType)

	tags := append([]*mapping.Tag(nil), tableTags(tbl)...)
	sort.SliceStable(tags, func(i, j int) bool { return tags[i].Path < tags[j].Path })

	var skipped []string
	folder := func(dir string) *node {
		parent := objects
		segs := strings.Split(dir, "/")
		for i, seg := range segs {
			if seg == "" {
				return nil
			}
			fp := strings.Join(segs[:i+1], "/")
			f := sp.nodes[nodeKey{ns: nsApp, str: fp}]
			if f == nil {
				f = sp.add(&node{
					id: ua.NewStringNodeID(nsApp, fp), class: ua.NodeClassObject,
					name: &ua.QualifiedName{NamespaceIndex: nsApp, Name: seg}, display: ua.NewLocalizedText(seg),
				})
				sp.link(parent, id.Organizes, f)
				sp.linkType(f, folderType)
			} else if f.class != ua.NodeClassObject {
				return nil
			}
			parent = f
		}
		return parent
	}

	for _, t := range tags {
		if t == nil || t.Path == "" || t.Entry == nil {
			continue
		}
		dir, leaf := "", t.Path
		if i := strings.LastIndexByte(t.Path, '/'); i >= 0 {
			dir, leaf = t.Path[:i], t.Path[i+1:]
		}
		parent := objects
		if dir != "" {
			parent = folder(dir)
		}
		k := nodeKey{ns: nsApp, str: t.Path}
		if parent == nil || leaf == "" || sp.nodes[k] != nil {
			skipped = append(skipped, t.Path)
			continue
		}
		dt, _ := dataTypeOf(t.Type)
		access := byte(ua.AccessLevelTypeCurrentRead)
		if t.Access == mapping.ReadWrite {
			access |= byte(ua.AccessLevelTypeCurrentWrite)
		}
		v := sp.add(&node{
			class:    ua.NodeClassVariable, // id, name and display: from the tag path
			dataType: sp.dataTypeID(dt), valueRank: -1, access: access,
			minSample: float64(t.Scan.Milliseconds()), tag: t,
		})
		if t.Description != "" {
			v.desc = ua.NewLocalizedText(t.Description)
		}
		sp.link(parent, id.Organizes, v)
		sp.tags++
		unit, hasUnit := lookupUnit(t.Unit)
		if (t.Range == nil && !hasUnit) || !t.Type.Numeric() {
			sp.linkType(v, varType)
			continue
		}
		sp.linkType(v, analogType)
		prop := func(name string, dt uint32, val any) {
			p := sp.add(&node{
				id: ua.NewStringNodeID(nsApp, t.Path+"#"+name), class: ua.NodeClassVariable,
				name: &ua.QualifiedName{NamespaceIndex: 0, Name: name}, display: ua.NewLocalizedText(name),
				dataType: sp.dataTypeID(dt), valueRank: -1, access: byte(ua.AccessLevelTypeCurrentRead),
				static: ua.MustVariant(ua.NewExtensionObject(val)),
			})
			sp.link(v, id.HasProperty, p)
			sp.linkType(p, propType)
		}
		if t.Range != nil {
			prop("EURange", id.Range, &ua.Range{Low: t.Range[0], High: t.Range[1]})
		}
		if hasUnit {
			prop("EngineeringUnits", id.EUInformation, &ua.EUInformation{
				NamespaceURI: unit.NamespaceURI, UnitID: unit.UnitID,
				DisplayName: ua.NewLocalizedText(unit.DisplayName), Description: ua.NewLocalizedText(unit.Description),
			})
		}
	}
	return sp, skipped
}

// nodeHint is the number of nodes buildSpace makes for tbl, near enough to
// size the node map once: namespace 0, the variables, their properties,
// and the folders (estimated).
func nodeHint(tbl *mapping.Table) int {
	n := 64
	for _, t := range tableTags(tbl) {
		if t == nil {
			continue
		}
		n++
		if t.Range != nil {
			n++
		}
		if t.Unit != "" {
			n++
		}
	}
	return n + n/64
}

func tableTags(tbl *mapping.Table) []*mapping.Tag {
	if tbl == nil {
		return nil
	}
	return tbl.Tags
}
