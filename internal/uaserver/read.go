package uaserver

import (
	"math"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/mapping"
)

func (s *Server) read(sess *session, r *ua.ReadRequest) ua.Response {
	if st := s.checkCount(len(r.NodesToRead), s.lim.MaxNodesPerRead); st != ua.StatusOK {
		return fault(r, st)
	}
	if r.MaxAge < 0 {
		return fault(r, ua.StatusBadMaxAgeInvalid)
	}
	if r.TimestampsToReturn > ua.TimestampsToReturnNeither {
		return fault(r, ua.StatusBadTimestampsToReturnInvalid)
	}
	sp := s.space.Load()
	res := make([]*ua.DataValue, len(r.NodesToRead))
	for i, rv := range r.NodesToRead {
		res[i] = s.readOne(sp, sess, rv, r.TimestampsToReturn)
	}
	return &ua.ReadResponse{ResponseHeader: respHeader(r, ua.StatusOK), Results: res}
}

func statusValue(st ua.StatusCode) *ua.DataValue {
	return &ua.DataValue{EncodingMask: ua.DataValueStatusCode, Status: st}
}

func (s *Server) readOne(sp *space, sess *session, rv *ua.ReadValueID, ts ua.TimestampsToReturn) *ua.DataValue {
	if rv == nil {
		return statusValue(ua.StatusBadNodeIDUnknown)
	}
	n := sp.node(rv.NodeID)
	if n == nil {
		return statusValue(ua.StatusBadNodeIDUnknown)
	}
	if rv.DataEncoding != nil && rv.DataEncoding.Name != "" {
		if rv.AttributeID != ua.AttributeIDValue {
			return statusValue(ua.StatusBadDataEncodingInvalid)
		}
		return statusValue(ua.StatusBadDataEncodingUnsupported)
	}
	if rv.AttributeID == ua.AttributeIDValue {
		if n.class != ua.NodeClassVariable && n.class != ua.NodeClassVariableType {
			return statusValue(ua.StatusBadAttributeIDInvalid)
		}
		if rv.IndexRange != "" {
			return statusValue(ua.StatusBadIndexRangeNoData)
		}
		return s.valueOf(n, ts)
	}
	v, st := attribute(n, rv.AttributeID, sess)
	if st != ua.StatusOK {
		return statusValue(st)
	}
	if rv.IndexRange != "" {
		return statusValue(ua.StatusBadIndexRangeNoData)
	}
	dv := &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(v)}
	// Attributes other than Value have no source timestamp (Part 4, 7.7.3);
	// the server timestamp is when we read them.
	if ts == ua.TimestampsToReturnServer || ts == ua.TimestampsToReturnBoth {
		dv.EncodingMask |= ua.DataValueServerTimestamp
		dv.ServerTimestamp = time.Now()
	}
	return dv
}

// valueOf is the Value attribute: from the store for tags, else static or
// computed. Timestamps follow TimestampsToReturn.
func (s *Server) valueOf(n *node, ts ua.TimestampsToReturn) *ua.DataValue {
	if n.tag != nil {
		return dataValue(n.tag, n.tag.Entry.Load(), ts)
	}
	dv := &ua.DataValue{EncodingMask: ua.DataValueValue, Value: &ua.Variant{}}
	switch {
	case n.dyn != nil:
		dv.Value = n.dyn()
	case n.static != nil:
		dv.Value = n.static
	}
	if ts == ua.TimestampsToReturnServer || ts == ua.TimestampsToReturnBoth {
		dv.EncodingMask |= ua.DataValueServerTimestamp
		dv.ServerTimestamp = time.Now()
	}
	if ts == ua.TimestampsToReturnSource || ts == ua.TimestampsToReturnBoth {
		dv.EncodingMask |= ua.DataValueSourceTimestamp
		dv.SourceTimestamp = time.Now()
	}
	return dv
}

// dataValue turns a store value into a DataValue: StatusCode = Quality,
// SourceTimestamp = when the device answered, ServerTimestamp = when the
// gateway published.
func dataValue(t *mapping.Tag, v mapping.Value, ts ua.TimestampsToReturn) *ua.DataValue {
	dv := &ua.DataValue{EncodingMask: ua.DataValueValue, Value: variantOf(t.Type, v.V)}
	if v.Quality != drivers.Good {
		dv.EncodingMask |= ua.DataValueStatusCode
		dv.Status = ua.StatusCode(v.Quality)
	}
	if (ts == ua.TimestampsToReturnSource || ts == ua.TimestampsToReturnBoth) && !v.Source.IsZero() {
		dv.EncodingMask |= ua.DataValueSourceTimestamp
		dv.SourceTimestamp = v.Source
	}
	if ts == ua.TimestampsToReturnServer || ts == ua.TimestampsToReturnBoth {
		dv.EncodingMask |= ua.DataValueServerTimestamp
		dv.ServerTimestamp = v.Server
		if v.Server.IsZero() {
			dv.ServerTimestamp = time.Now()
		}
	}
	return dv
}

// variantOf encodes v in the exact Variant type of t. Values of another Go
// type (a driver bug) are converted when that is lossless enough to show;
// anything else becomes a null Variant rather than a wrong type on the wire.
func variantOf(t drivers.Type, v any) *ua.Variant {
	if v == nil {
		return &ua.Variant{}
	}
	var out any
	switch t {
	case drivers.Bool:
		if b, ok := v.(bool); ok {
			out = b
		}
	case drivers.String:
		if s, ok := v.(string); ok {
			out = s
		}
	default:
		f, ok := asFloat(v)
		if !ok {
			break
		}
		switch t {
		case drivers.Int16:
			out = int16(f)
		case drivers.Uint16, drivers.BCD16:
			out = uint16(f)
		case drivers.Int32:
			out = int32(f)
		case drivers.Uint32, drivers.BCD32:
			out = uint32(f)
		case drivers.Int64:
			if x, ok := v.(int64); ok {
				out = x
			} else {
				out = int64(f)
			}
		case drivers.Uint64:
			if x, ok := v.(uint64); ok {
				out = x
			} else {
				out = uint64(f)
			}
		case drivers.Float32:
			out = float32(f)
		case drivers.Float64:
			out = f
		}
	}
	if out == nil {
		return &ua.Variant{}
	}
	return ua.MustVariant(out)
}

func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint:
		return float64(x), true
	case float32:
		return float64(x), true
	case float64:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return math.NaN(), false
}

// attribute returns a non-Value attribute of n as a Variant-able Go value.
func attribute(n *node, a ua.AttributeID, sess *session) (any, ua.StatusCode) {
	isVar := n.class == ua.NodeClassVariable
	isType := n.class == ua.NodeClassObjectType || n.class == ua.NodeClassVariableType ||
		n.class == ua.NodeClassDataType || n.class == ua.NodeClassReferenceType
	switch a {
	case ua.AttributeIDNodeID:
		return n.nodeID(), ua.StatusOK
	case ua.AttributeIDNodeClass:
		return int32(n.class), ua.StatusOK
	case ua.AttributeIDBrowseName:
		return n.browseName(), ua.StatusOK
	case ua.AttributeIDDisplayName:
		return n.displayName(), ua.StatusOK
	case ua.AttributeIDDescription:
		if n.desc == nil {
			return &ua.LocalizedText{}, ua.StatusOK
		}
		return n.desc, ua.StatusOK
	case ua.AttributeIDWriteMask, ua.AttributeIDUserWriteMask:
		return uint32(0), ua.StatusOK
	case ua.AttributeIDIsAbstract:
		if isType {
			return n.abstract, ua.StatusOK
		}
	case ua.AttributeIDSymmetric:
		if n.class == ua.NodeClassReferenceType {
			return n.symmetric, ua.StatusOK
		}
	case ua.AttributeIDInverseName:
		if n.class == ua.NodeClassReferenceType {
			return ua.NewLocalizedText(n.inverseName), ua.StatusOK
		}
	case ua.AttributeIDEventNotifier:
		if n.class == ua.NodeClassObject {
			return uint8(0), ua.StatusOK
		}
	case ua.AttributeIDDataType:
		if isVar || n.class == ua.NodeClassVariableType {
			return n.dataType, ua.StatusOK
		}
	case ua.AttributeIDValueRank:
		if isVar || n.class == ua.NodeClassVariableType {
			return n.valueRank, ua.StatusOK
		}
	case ua.AttributeIDArrayDimensions:
		if isVar || n.class == ua.NodeClassVariableType {
			if n.valueRank == 1 {
				return []uint32{0}, ua.StatusOK
			}
			return []uint32(nil), ua.StatusOK
		}
	case ua.AttributeIDAccessLevel:
		if isVar {
			return n.access, ua.StatusOK
		}
	case ua.AttributeIDUserAccessLevel:
		if isVar {
			return userAccess(n, sess), ua.StatusOK
		}
	case ua.AttributeIDMinimumSamplingInterval:
		if isVar {
			return n.minSample, ua.StatusOK
		}
	case ua.AttributeIDHistorizing:
		if isVar {
			return false, ua.StatusOK
		}
	}
	return nil, ua.StatusBadAttributeIDInvalid
}

// userAccess is AccessLevel minus writing for a user without write rights.
func userAccess(n *node, sess *session) byte {
	if sess == nil || !sess.mayWrite() {
		return n.access &^ byte(ua.AccessLevelTypeCurrentWrite)
	}
	return n.access
}

func (sess *session) mayWrite() bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.canWrite
}
