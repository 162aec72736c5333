package uaserver

import (
	"context"
	"errors"

	"github.com/gopcua/opcua/ua"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/mapping"
)

func (s *Server) write(ctx context.Context, sess *session, r *ua.WriteRequest) ua.Response {
	if st := s.checkCount(len(r.NodesToWrite), s.lim.MaxNodesPerWrite); st != ua.StatusOK {
		return fault(r, st)
	}
	sp := s.space.Load()
	res := make([]ua.StatusCode, len(r.NodesToWrite))
	for i, wv := range r.NodesToWrite {
		res[i] = s.writeOne(ctx, sp, sess, wv)
	}
	return &ua.WriteResponse{ResponseHeader: respHeader(r, ua.StatusOK), Results: res}
}

// writeOne checks one write in the order a client can act on: the node, the
// attribute, the tag's access, the user's rights, the exact type; then the
// device write through Writer, which returns only once the device confirmed.
func (s *Server) writeOne(ctx context.Context, sp *space, sess *session, wv *ua.WriteValue) ua.StatusCode {
	if wv == nil {
		return ua.StatusBadNodeIDUnknown
	}
	n := sp.node(wv.NodeID)
	if n == nil {
		return ua.StatusBadNodeIDUnknown
	}
	if wv.AttributeID != ua.AttributeIDValue {
		if _, st := attribute(n, wv.AttributeID, sess); st != ua.StatusOK {
			return st
		}
		return ua.StatusBadNotWritable
	}
	if n.class != ua.NodeClassVariable {
		return ua.StatusBadAttributeIDInvalid
	}
	t := n.tag
	if t == nil || t.Access != mapping.ReadWrite || t.Status {
		return ua.StatusBadNotWritable
	}
	if !sess.mayWrite() {
		return ua.StatusBadUserAccessDenied
	}
	if wv.IndexRange != "" {
		return ua.StatusBadWriteNotSupported
	}
	dv := wv.Value
	if dv == nil || dv.Value == nil || dv.EncodingMask&ua.DataValueValue == 0 {
		return ua.StatusBadTypeMismatch
	}
	if dv.EncodingMask&ua.DataValueStatusCode != 0 && dv.Status != ua.StatusOK {
		return ua.StatusBadWriteNotSupported // status and timestamps come from the device
	}
	_, want := dataTypeOf(t.Type)
	if dv.Value.Type() != want || dv.Value.ArrayLength() != 0 || dv.Value.Has(ua.VariantArrayValues) {
		return ua.StatusBadTypeMismatch
	}
	if s.writer == nil {
		return ua.StatusBadNotWritable
	}
	wctx, cancel := context.WithTimeout(ctx, s.lim.WriteTimeout)
	defer cancel()
	err := s.writer.Write(wctx, t, dv.Value.Value())
	if err == nil {
		return ua.StatusOK
	}
	var qe *drivers.QualityError
	switch {
	case errors.As(err, &qe):
		return ua.StatusCode(qe.Quality)
	case errors.Is(err, context.DeadlineExceeded):
		return ua.StatusBadTimeout
	case errors.Is(err, context.Canceled):
		return ua.StatusBadShutdown
	}
	var sc ua.StatusCode
	if errors.As(err, &sc) {
		return sc
	}
	s.log.Warn("opcua: write failed", "tag", t.Path, "err", err)
	return ua.StatusBadInternalError
}
