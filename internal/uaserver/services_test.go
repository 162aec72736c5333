package uaserver

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/mapping"
)

func browseNames(t *testing.T, c *opcua.Client, n *ua.NodeID, refType uint32, max uint32) []string {
	t.Helper()
	res, err := c.Browse(ctx5(t), &ua.BrowseRequest{
		View: &ua.ViewDescription{ViewID: ua.NewTwoByteNodeID(0)}, RequestedMaxReferencesPerNode: max,
		NodesToBrowse: []*ua.BrowseDescription{{
			NodeID: n, BrowseDirection: ua.BrowseDirectionForward, ReferenceTypeID: ua.NewNumericNodeID(0, refType),
			IncludeSubtypes: true, ResultMask: uint32(ua.BrowseResultMaskAll),
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Results[0]
	if r.StatusCode != ua.StatusOK {
		t.Fatalf("browse %s: %v", n, r.StatusCode)
	}
	refs := r.References
	cp := r.ContinuationPoint
	for i := 0; len(cp) > 0 && i < 100; i++ {
		next, err := c.BrowseNext(ctx5(t), &ua.BrowseNextRequest{ContinuationPoints: [][]byte{cp}})
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, next.Results[0].References...)
		cp = next.Results[0].ContinuationPoint
	}
	var names []string
	for _, rf := range refs {
		names = append(names, rf.BrowseName.Name)
	}
	sort.Strings(names)
	return names
}

func TestBrowse(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := f.connect(t)
	for _, tc := range []struct {
		node    *ua.NodeID
		refType uint32
		max     uint32
		want    string
	}{
		{ua.NewNumericNodeID(0, id.RootFolder), id.HierarchicalReferences, 0, "[Objects Types Views]"},
		{ua.NewNumericNodeID(0, id.ObjectsFolder), id.Organizes, 0, "[Line1 Server _Devices]"},
		{ua.NewNumericNodeID(0, id.ObjectsFolder), id.HierarchicalReferences, 1, "[Line1 Server _Devices]"}, // BrowseNext
		{nid("Line1"), id.HierarchicalReferences, 0, "[Name Press3 Running]"},
		{nid("Line1/Press3"), id.HierarchicalReferences, 2, "[Count Setpoint Temperature]"},
		{nid("Line1/Press3/Temperature"), id.HasProperty, 0, "[EURange EngineeringUnits]"},
		{nid("Line1/Press3/Temperature"), id.HasTypeDefinition, 0, "[AnalogItemType]"},
		{nid("Line1/Press3/Setpoint"), id.HasTypeDefinition, 0, "[BaseDataVariableType]"},
		{nid("_Devices"), id.Organizes, 0, "[press3]"},
		{ua.NewNumericNodeID(0, id.Server), id.HasComponent, 0, "[ServerCapabilities ServerStatus]"},
		{ua.NewNumericNodeID(0, id.Server_ServerStatus), id.HasComponent, 0, "[BuildInfo CurrentTime SecondsTillShutdown ShutdownReason StartTime State]"},
	} {
		if got := fmt.Sprint(browseNames(t, c, tc.node, tc.refType, tc.max)); got != tc.want {
			t.Errorf("browse %s (ref %d, max %d): got %s, want %s", tc.node, tc.refType, tc.max, got, tc.want)
		}
	}
	// Inverse, node class mask and errors.
	res, err := c.Browse(ctx5(t), &ua.BrowseRequest{View: &ua.ViewDescription{ViewID: ua.NewTwoByteNodeID(0)}, NodesToBrowse: []*ua.BrowseDescription{
		{NodeID: nid("Line1/Press3"), BrowseDirection: ua.BrowseDirectionInverse, ReferenceTypeID: ua.NewTwoByteNodeID(0), ResultMask: 63},
		{NodeID: nid("Line1"), BrowseDirection: ua.BrowseDirectionForward, ReferenceTypeID: ua.NewTwoByteNodeID(0), NodeClassMask: uint32(ua.NodeClassVariable), ResultMask: 63},
		{NodeID: nid("nope"), ReferenceTypeID: ua.NewTwoByteNodeID(0)},
		{NodeID: nid("Line1"), ReferenceTypeID: ua.NewNumericNodeID(0, id.ObjectsFolder)},
		{NodeID: nid("Line1"), BrowseDirection: 7, ReferenceTypeID: ua.NewTwoByteNodeID(0)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Results[0]; len(r.References) != 1 || r.References[0].BrowseName.Name != "Line1" || r.References[0].IsForward {
		t.Errorf("inverse browse: %+v", r.References)
	}
	if r := res.Results[1]; len(r.References) != 2 {
		t.Errorf("variables of Line1: got %d refs, want 2 (Name, Running)", len(r.References))
	}
	for i, want := range []ua.StatusCode{ua.StatusBadNodeIDUnknown, ua.StatusBadReferenceTypeIDInvalid, ua.StatusBadBrowseDirectionInvalid} {
		if got := res.Results[2+i].StatusCode; got != want {
			t.Errorf("result %d: got %v, want %v", 2+i, got, want)
		}
	}
}

func TestTranslateBrowsePath(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := f.connect(t)
	path := func(names ...string) *ua.BrowsePath {
		var els []*ua.RelativePathElement
		for _, n := range names {
			els = append(els, &ua.RelativePathElement{ReferenceTypeID: ua.NewNumericNodeID(0, id.HierarchicalReferences), IncludeSubtypes: true, TargetName: &ua.QualifiedName{NamespaceIndex: 1, Name: n}})
		}
		return &ua.BrowsePath{StartingNode: ua.NewNumericNodeID(0, id.ObjectsFolder), RelativePath: &ua.RelativePath{Elements: els}}
	}
	var res *ua.TranslateBrowsePathsToNodeIDsResponse
	err := c.Send(ctx5(t), &ua.TranslateBrowsePathsToNodeIDsRequest{BrowsePaths: []*ua.BrowsePath{path("Line1", "Press3", "Temperature"), path("Line1", "Nope")}}, func(r ua.Response) error {
		res = r.(*ua.TranslateBrowsePathsToNodeIDsResponse)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Results[0]; r.StatusCode != ua.StatusOK || len(r.Targets) != 1 || r.Targets[0].TargetID.NodeID.StringID() != "Line1/Press3/Temperature" {
		t.Errorf("translate: %+v", r)
	}
	if res.Results[1].StatusCode != ua.StatusBadNoMatch {
		t.Errorf("translate missing: %v", res.Results[1].StatusCode)
	}
}

func read(t *testing.T, c *opcua.Client, ts ua.TimestampsToReturn, ids ...*ua.ReadValueID) []*ua.DataValue {
	t.Helper()
	for _, rv := range ids {
		if rv.DataEncoding == nil {
			rv.DataEncoding = &ua.QualifiedName{}
		}
	}
	res, err := c.Read(ctx5(t), &ua.ReadRequest{TimestampsToReturn: ts, NodesToRead: ids})
	if err != nil {
		t.Fatal(err)
	}
	return res.Results
}

func TestReadValue(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := f.connect(t)
	src := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	srv := src.Add(time.Millisecond)
	f.store.Entry("Line1/Press3/Temperature").Set(mapping.Value{V: 21.5, Quality: drivers.Good, Source: src, Server: srv})
	f.store.Entry("Line1/Press3/Count").Set(mapping.Value{V: uint32(7), Quality: drivers.BadCommunicationError, Source: src, Server: srv})
	val := func(p string) *ua.ReadValueID {
		return &ua.ReadValueID{NodeID: nid(p), AttributeID: ua.AttributeIDValue}
	}

	r := read(t, c, ua.TimestampsToReturnBoth, val("Line1/Press3/Temperature"), val("Line1/Press3/Count"), val("Line1/Name"), val("nope"), val("Line1"))
	if r[0].Status != ua.StatusOK || r[0].Value.Value() != 21.5 || !r[0].SourceTimestamp.Equal(src) || !r[0].ServerTimestamp.Equal(srv) {
		t.Errorf("temperature: %+v", r[0])
	}
	if r[1].Status != ua.StatusBadCommunicationError || r[1].Value.Value() != uint32(7) {
		t.Errorf("count: status %v value %v", r[1].Status, r[1].Value.Value())
	}
	if r[2].Status != ua.StatusBadWaitingForInitialData {
		t.Errorf("never read: %v", r[2].Status)
	}
	if r[3].Status != ua.StatusBadNodeIDUnknown || r[4].Status != ua.StatusBadAttributeIDInvalid {
		t.Errorf("unknown node %v, folder value %v", r[3].Status, r[4].Status)
	}
	r = read(t, c, ua.TimestampsToReturnNeither, val("Line1/Press3/Temperature"))
	if !r[0].SourceTimestamp.IsZero() || !r[0].ServerTimestamp.IsZero() {
		t.Errorf("Neither returned timestamps: %+v", r[0])
	}
	r = read(t, c, ua.TimestampsToReturnSource, val("Line1/Press3/Temperature"))
	if !r[0].SourceTimestamp.Equal(src) || !r[0].ServerTimestamp.IsZero() {
		t.Errorf("Source: %+v", r[0])
	}
	_, err := c.Read(ctx5(t), &ua.ReadRequest{TimestampsToReturn: 9, NodesToRead: []*ua.ReadValueID{{NodeID: nid("Line1"), AttributeID: 1, DataEncoding: &ua.QualifiedName{}}}})
	if !errors.Is(err, ua.StatusBadTimestampsToReturnInvalid) {
		t.Errorf("bad timestamps: %v", err)
	}
	_, err = c.Read(ctx5(t), &ua.ReadRequest{})
	if !errors.Is(err, ua.StatusBadNothingToDo) {
		t.Errorf("empty read: %v", err)
	}
}

func TestReadAttributes(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := f.connect(t)
	attr := func(n *ua.NodeID, a ua.AttributeID) *ua.ReadValueID {
		return &ua.ReadValueID{NodeID: n, AttributeID: a}
	}
	temp, set := nid("Line1/Press3/Temperature"), nid("Line1/Press3/Setpoint")
	r := read(t, c, ua.TimestampsToReturnNeither,
		attr(temp, ua.AttributeIDNodeClass), attr(temp, ua.AttributeIDBrowseName), attr(temp, ua.AttributeIDDisplayName),
		attr(temp, ua.AttributeIDDescription), attr(temp, ua.AttributeIDDataType), attr(temp, ua.AttributeIDValueRank),
		attr(temp, ua.AttributeIDAccessLevel), attr(set, ua.AttributeIDAccessLevel), attr(set, ua.AttributeIDUserAccessLevel),
		attr(temp, ua.AttributeIDMinimumSamplingInterval), attr(nid("Line1"), ua.AttributeIDDataType),
		attr(nid("Line1/Press3/Count"), ua.AttributeIDDataType), attr(ua.NewNumericNodeID(0, id.Server_ServerStatus_State), ua.AttributeIDValue),
		attr(nid("Line1/Press3/Temperature#EURange"), ua.AttributeIDValue), attr(nid("Line1/Press3/Temperature#EngineeringUnits"), ua.AttributeIDValue),
		attr(ua.NewNumericNodeID(0, id.HasComponent), ua.AttributeIDInverseName), attr(temp, 99),
	)
	checks := []struct {
		i    int
		want any
	}{
		{0, int32(ua.NodeClassVariable)}, {5, int32(-1)}, {6, byte(1)}, {7, byte(3)}, {8, byte(1)}, {9, 250.0}, {12, int32(0)},
	}
	for _, ch := range checks {
		if r[ch.i].Status != ua.StatusOK || r[ch.i].Value.Value() != ch.want {
			t.Errorf("attribute %d: %v %#v, want %#v", ch.i, r[ch.i].Status, r[ch.i].Value.Value(), ch.want)
		}
	}
	if qn := r[1].Value.Value().(*ua.QualifiedName); qn.Name != "Temperature" || qn.NamespaceIndex != 1 {
		t.Errorf("browse name %+v", qn)
	}
	if lt := r[2].Value.Value().(*ua.LocalizedText); lt.Text != "Temperature" {
		t.Errorf("display name %+v", lt)
	}
	if lt := r[3].Value.Value().(*ua.LocalizedText); lt.Text != "Platen temperature" {
		t.Errorf("description %+v", lt)
	}
	if dt := r[4].Value.Value().(*ua.NodeID); dt.IntID() != id.Double {
		t.Errorf("data type %v", dt)
	}
	if r[10].Status != ua.StatusBadAttributeIDInvalid {
		t.Errorf("folder DataType: %v", r[10].Status)
	}
	if dt := r[11].Value.Value().(*ua.NodeID); dt.IntID() != id.UInt32 {
		t.Errorf("uint32 data type %v", dt)
	}
	if rg, ok := r[13].Value.Value().(*ua.ExtensionObject).Value.(*ua.Range); !ok || rg.High != 100 {
		t.Errorf("EURange %+v", r[13].Value.Value())
	}
	if eu, ok := r[14].Value.Value().(*ua.ExtensionObject).Value.(*ua.EUInformation); !ok || eu.UnitID == 0 {
		t.Errorf("EngineeringUnits %+v", r[14].Value.Value())
	}
	if lt := r[15].Value.Value().(*ua.LocalizedText); lt.Text != "ComponentOf" {
		t.Errorf("inverse name %+v", lt)
	}
	if r[16].Status != ua.StatusBadAttributeIDInvalid {
		t.Errorf("attribute 99: %v", r[16].Status)
	}
}

func write(t *testing.T, c *opcua.Client, path string, v any) ua.StatusCode {
	t.Helper()
	res, err := c.Write(ctx5(t), &ua.WriteRequest{NodesToWrite: []*ua.WriteValue{{
		NodeID: nid(path), AttributeID: ua.AttributeIDValue,
		Value: &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(v)},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Results[0]
}

func TestWrite(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	op := f.connect(t, opcua.AuthUsername("operator", "secret"))
	viewer := f.connect(t, opcua.AuthUsername("viewer", "secret"))
	anon := f.connect(t)
	for _, tc := range []struct {
		name string
		c    *opcua.Client
		path string
		v    any
		want ua.StatusCode
	}{
		{"float32 ok", op, "Line1/Press3/Setpoint", float32(42.5), ua.StatusOK},
		{"uint32 ok", op, "Line1/Press3/Count", uint32(9), ua.StatusOK},
		{"string ok", op, "Line1/Name", "L1", ua.StatusOK},
		{"type mismatch", op, "Line1/Press3/Setpoint", float64(1), ua.StatusBadTypeMismatch},
		{"int for uint", op, "Line1/Press3/Count", int32(1), ua.StatusBadTypeMismatch},
		{"read only", op, "Line1/Press3/Temperature", float64(1), ua.StatusBadNotWritable},
		{"status tag", op, "_Devices/press3/Connected", true, ua.StatusBadNotWritable},
		{"unknown", op, "nope", true, ua.StatusBadNodeIDUnknown},
		{"anonymous", anon, "Line1/Press3/Setpoint", float32(1), ua.StatusBadUserAccessDenied},
		{"viewer", viewer, "Line1/Press3/Setpoint", float32(1), ua.StatusBadUserAccessDenied},
	} {
		if got := write(t, tc.c, tc.path, tc.v); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	if v := f.w.value("Line1/Press3/Setpoint"); v != float32(42.5) {
		t.Errorf("writer got %#v", v)
	}
	f.w.mu.Lock()
	f.w.err = fmt.Errorf("poll: %w", &drivers.QualityError{Quality: drivers.BadDeviceFailure, Err: errors.New("exception 4")})
	f.w.mu.Unlock()
	if got := write(t, op, "Line1/Press3/Setpoint", float32(1)); got != ua.StatusBadDeviceFailure {
		t.Errorf("writer error: got %v, want BadDeviceFailure", got)
	}
	f.w.mu.Lock()
	f.w.err = context.DeadlineExceeded
	f.w.mu.Unlock()
	if got := write(t, op, "Line1/Press3/Setpoint", float32(1)); got != ua.StatusBadTimeout {
		t.Errorf("writer timeout: got %v, want BadTimeout", got)
	}
	// UserAccessLevel follows the user.
	rv := []*ua.ReadValueID{{NodeID: nid("Line1/Press3/Setpoint"), AttributeID: ua.AttributeIDUserAccessLevel}}
	if v := read(t, op, 3, rv...)[0].Value.Value(); v != byte(3) {
		t.Errorf("operator UserAccessLevel %v", v)
	}
	if v := read(t, anon, 3, rv...)[0].Value.Value(); v != byte(1) {
		t.Errorf("anonymous UserAccessLevel %v", v)
	}
}

func TestSubscription(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := f.connect(t)
	e := f.store.Entry("Line1/Press3/Temperature")
	e.Set(mapping.Value{V: 1.0, Quality: drivers.Good, Source: time.Now(), Server: time.Now()})
	sub, ch, res := subscribe(t, c, 50*time.Millisecond, monItem("Line1/Press3/Temperature", 1), monItem("nope", 2))
	if res.Results[0].StatusCode != ua.StatusOK || res.Results[1].StatusCode != ua.StatusBadNodeIDUnknown {
		t.Fatalf("create items: %v %v", res.Results[0].StatusCode, res.Results[1].StatusCode)
	}
	want := []float64{1, 2, 3}
	next := 1
	deadline := time.After(10 * time.Second)
	var got []float64
	for len(got) < len(want) {
		select {
		case <-deadline:
			t.Fatalf("got %v, want %v", got, want)
		case n := <-ch:
			if n.Error != nil {
				t.Fatal(n.Error)
			}
			dc, ok := n.Value.(*ua.DataChangeNotification)
			if !ok {
				continue
			}
			for _, it := range dc.MonitoredItems {
				got = append(got, it.Value.Value.Value().(float64))
			}
			if next < len(want) {
				next++
				e.Set(mapping.Value{V: float64(next), Quality: drivers.Good, Source: time.Now(), Server: time.Now()})
			}
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if st := f.srv.Stats(); st.Subscriptions != 1 || st.MonitoredItems != 1 || st.NotificationsSent < 3 {
		t.Errorf("stats %+v", st)
	}
	if err := sub.Cancel(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	if st := f.srv.Stats(); st.Subscriptions != 0 {
		t.Errorf("after delete: %+v", st)
	}
}

func TestCloseSessionReleasesWatchers(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := f.connect(t)
	subscribe(t, c, 50*time.Millisecond, monItem("Line1/Press3/Temperature", 1))
	if err := c.Close(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	st := f.srv.Stats()
	if st.Sessions != 0 || st.Subscriptions != 0 {
		t.Fatalf("after close: %+v", st)
	}
	// The entry has no watcher left: Set never marks a dead subscription.
	e := f.store.Entry("Line1/Press3/Temperature")
	for i := range 1000 {
		e.Set(mapping.Value{V: float64(i), Quality: drivers.Good})
	}
}
