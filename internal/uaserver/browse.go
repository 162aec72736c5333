package uaserver

import (
	"encoding/hex"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
)

// continuation is the rest of a Browse result, held by the session.
type continuation struct {
	refs []*ua.ReferenceDescription
	max  int
}

func (s *Server) browse(sess *session, r *ua.BrowseRequest) ua.Response {
	if st := s.checkCount(len(r.NodesToBrowse), s.lim.MaxNodesPerBrowse); st != ua.StatusOK {
		return fault(r, st)
	}
	if r.View != nil && r.View.ViewID != nil && !isNull(r.View.ViewID) {
		return fault(r, ua.StatusBadViewIDUnknown)
	}
	sp := s.space.Load()
	max := int(r.RequestedMaxReferencesPerNode)
	if max == 0 || max > int(s.lim.MaxReferencesPerNode) {
		max = int(s.lim.MaxReferencesPerNode)
	}
	res := make([]*ua.BrowseResult, len(r.NodesToBrowse))
	for i, bd := range r.NodesToBrowse {
		refs, st := browseRefs(sp, bd)
		if st != ua.StatusOK {
			res[i] = &ua.BrowseResult{StatusCode: st}
			continue
		}
		res[i] = sess.page(refs, max)
	}
	return &ua.BrowseResponse{ResponseHeader: respHeader(r, ua.StatusOK), Results: res}
}

func isNull(n *ua.NodeID) bool {
	k, ok := keyOf(n)
	return ok && k == nodeKey{}
}

// page returns up to max references and parks the rest in a continuation
// point of the session.
func (sess *session) page(refs []*ua.ReferenceDescription, max int) *ua.BrowseResult {
	if len(refs) <= max {
		return &ua.BrowseResult{StatusCode: ua.StatusOK, References: refs}
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if len(sess.cps) >= sess.srv.lim.MaxBrowseContinuationPoints {
		return &ua.BrowseResult{StatusCode: ua.StatusBadNoContinuationPoints}
	}
	cp := randomBytes(16)
	sess.cps[hex.EncodeToString(cp)] = &continuation{refs: refs[max:], max: max}
	return &ua.BrowseResult{StatusCode: ua.StatusOK, References: refs[:max], ContinuationPoint: cp}
}

func (s *Server) browseNext(sess *session, r *ua.BrowseNextRequest) ua.Response {
	if st := s.checkCount(len(r.ContinuationPoints), s.lim.MaxNodesPerBrowse); st != ua.StatusOK {
		return fault(r, st)
	}
	res := make([]*ua.BrowseResult, len(r.ContinuationPoints))
	for i, cp := range r.ContinuationPoints {
		key := hex.EncodeToString(cp)
		sess.mu.Lock()
		c := sess.cps[key]
		delete(sess.cps, key)
		sess.mu.Unlock()
		switch {
		case c == nil:
			res[i] = &ua.BrowseResult{StatusCode: ua.StatusBadContinuationPointInvalid}
		case r.ReleaseContinuationPoints:
			res[i] = &ua.BrowseResult{StatusCode: ua.StatusOK}
		default:
			res[i] = sess.page(c.refs, c.max)
		}
	}
	return &ua.BrowseNextResponse{ResponseHeader: respHeader(r, ua.StatusOK), Results: res}
}

// browseRefs lists the references of one BrowseDescription.
func browseRefs(sp *space, bd *ua.BrowseDescription) ([]*ua.ReferenceDescription, ua.StatusCode) {
	if bd == nil {
		return nil, ua.StatusBadNodeIDUnknown
	}
	n := sp.node(bd.NodeID)
	if n == nil {
		return nil, ua.StatusBadNodeIDUnknown
	}
	if bd.BrowseDirection > ua.BrowseDirectionBoth {
		return nil, ua.StatusBadBrowseDirectionInvalid
	}
	var refType uint32
	if bd.ReferenceTypeID != nil && !isNull(bd.ReferenceTypeID) {
		rt := sp.node(bd.ReferenceTypeID)
		if rt == nil || rt.class != ua.NodeClassReferenceType || rt.id.Namespace() != 0 {
			return nil, ua.StatusBadReferenceTypeIDInvalid
		}
		refType = rt.id.IntID()
	}
	mask := ua.NodeClass(bd.NodeClassMask)
	out := []*ua.ReferenceDescription{}
	for rf := range sp.refs(n) {
		switch {
		case bd.BrowseDirection == ua.BrowseDirectionForward && !rf.forward,
			bd.BrowseDirection == ua.BrowseDirectionInverse && rf.forward:
			continue
		}
		if refType != 0 && rf.typ != refType && (!bd.IncludeSubtypes || !sp.isSubtype(rf.typ, refType)) {
			continue
		}
		if mask != 0 && mask&rf.to.class == 0 {
			continue
		}
		out = append(out, describe(rf, ua.BrowseResultMask(bd.ResultMask)))
	}
	return out, ua.StatusOK
}

// describe fills the fields the result mask asks for; the others keep
// their null values (never nil pointers: they would corrupt the encoding).
func describe(rf ref, m ua.BrowseResultMask) *ua.ReferenceDescription {
	t := rf.to
	d := &ua.ReferenceDescription{
		ReferenceTypeID: ua.NewTwoByteNodeID(0), NodeID: &ua.ExpandedNodeID{NodeID: t.nodeID()},
		BrowseName: &ua.QualifiedName{}, DisplayName: &ua.LocalizedText{},
		TypeDefinition: &ua.ExpandedNodeID{NodeID: ua.NewTwoByteNodeID(0)},
	}
	if m&ua.BrowseResultMaskReferenceTypeID != 0 {
		d.ReferenceTypeID = ua.NewNumericNodeID(0, rf.typ)
	}
	if m&ua.BrowseResultMaskIsForward != 0 {
		d.IsForward = rf.forward
	}
	if m&ua.BrowseResultMaskNodeClass != 0 {
		d.NodeClass = t.class
	}
	if m&ua.BrowseResultMaskBrowseName != 0 {
		d.BrowseName = t.browseName()
	}
	if m&ua.BrowseResultMaskDisplayName != 0 {
		d.DisplayName = t.displayName()
	}
	if m&ua.BrowseResultMaskTypeDefinition != 0 && t.typeDef != nil &&
		(t.class == ua.NodeClassObject || t.class == ua.NodeClassVariable) {
		d.TypeDefinition = &ua.ExpandedNodeID{NodeID: t.typeDef.nodeID()}
	}
	return d
}

func (s *Server) translate(r *ua.TranslateBrowsePathsToNodeIDsRequest) ua.Response {
	if st := s.checkCount(len(r.BrowsePaths), s.lim.MaxNodesPerBrowse); st != ua.StatusOK {
		return fault(r, st)
	}
	sp := s.space.Load()
	res := make([]*ua.BrowsePathResult, len(r.BrowsePaths))
	for i, bp := range r.BrowsePaths {
		res[i] = translateOne(sp, bp)
	}
	return &ua.TranslateBrowsePathsToNodeIDsResponse{ResponseHeader: respHeader(r, ua.StatusOK), Results: res}
}

func translateOne(sp *space, bp *ua.BrowsePath) *ua.BrowsePathResult {
	if bp == nil || sp.node(bp.StartingNode) == nil {
		return &ua.BrowsePathResult{StatusCode: ua.StatusBadNodeIDUnknown}
	}
	if bp.RelativePath == nil || len(bp.RelativePath.Elements) == 0 {
		return &ua.BrowsePathResult{StatusCode: ua.StatusBadNothingToDo}
	}
	cur := []*node{sp.node(bp.StartingNode)}
	for _, el := range bp.RelativePath.Elements {
		if el == nil || el.TargetName == nil || el.TargetName.Name == "" {
			return &ua.BrowsePathResult{StatusCode: ua.StatusBadBrowseNameInvalid}
		}
		refType := uint32(id.HierarchicalReferences)
		sub := true
		if el.ReferenceTypeID != nil && !isNull(el.ReferenceTypeID) {
			refType, sub = el.ReferenceTypeID.IntID(), el.IncludeSubtypes
		}
		var next []*node
		for _, n := range cur {
			for rf := range sp.refs(n) {
				if rf.forward == el.IsInverse {
					continue
				}
				if rf.typ != refType && (!sub || !sp.isSubtype(rf.typ, refType)) {
					continue
				}
				if rf.to.hasName(el.TargetName) {
					next = append(next, rf.to)
				}
			}
		}
		if len(next) == 0 {
			return &ua.BrowsePathResult{StatusCode: ua.StatusBadNoMatch}
		}
		cur = next
	}
	targets := make([]*ua.BrowsePathTarget, len(cur))
	for i, n := range cur {
		targets[i] = &ua.BrowsePathTarget{TargetID: &ua.ExpandedNodeID{NodeID: n.nodeID()}, RemainingPathIndex: 0xFFFFFFFF}
	}
	return &ua.BrowsePathResult{StatusCode: ua.StatusOK, Targets: targets}
}

// registerNodes is the identity: our NodeIds are already cheap to resolve.
func (s *Server) registerNodes(r *ua.RegisterNodesRequest) ua.Response {
	if st := s.checkCount(len(r.NodesToRegister), s.lim.MaxNodesPerRead); st != ua.StatusOK {
		return fault(r, st)
	}
	out := make([]*ua.NodeID, len(r.NodesToRegister))
	for i, n := range r.NodesToRegister {
		out[i] = n
		if n == nil {
			out[i] = ua.NewTwoByteNodeID(0)
		}
	}
	return &ua.RegisterNodesResponse{ResponseHeader: respHeader(r, ua.StatusOK), RegisteredNodeIDs: out}
}
