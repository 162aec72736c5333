package uaserver

import (
	"context"
	"testing"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/tagbridge/tagbridge/mapping"
)

func encodeRequest(t testing.TB, req ua.Request) []byte {
	tid := ua.ServiceTypeID(req)
	b, err := ua.Encode(ua.NewFourByteExpandedNodeID(0, tid))
	if err != nil {
		t.Fatal(err)
	}
	body, err := ua.Encode(req)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, body...)
}

func hdr() *ua.RequestHeader {
	return &ua.RequestHeader{AuthenticationToken: ua.NewTwoByteNodeID(0), AdditionalHeader: ua.NewExtensionObject(nil)}
}

// FuzzDecodeRequest feeds arbitrary message bodies through the decoder
// and the service handlers of an activated anonymous session, then encodes
// the response: nothing may panic and every response must encode.
func FuzzDecodeRequest(f *testing.F) {
	qn := &ua.QualifiedName{}
	for _, req := range []ua.Request{
		&ua.ReadRequest{RequestHeader: hdr(), TimestampsToReturn: ua.TimestampsToReturnBoth, NodesToRead: []*ua.ReadValueID{
			{NodeID: nid("Line1/Press3/Temperature"), AttributeID: ua.AttributeIDValue, DataEncoding: qn},
			{NodeID: ua.NewNumericNodeID(0, id.Server_ServerStatus), AttributeID: ua.AttributeIDValue, DataEncoding: qn},
		}},
		&ua.BrowseRequest{RequestHeader: hdr(), View: &ua.ViewDescription{ViewID: ua.NewTwoByteNodeID(0)}, RequestedMaxReferencesPerNode: 1,
			NodesToBrowse: []*ua.BrowseDescription{{NodeID: ua.NewNumericNodeID(0, id.ObjectsFolder), ReferenceTypeID: ua.NewTwoByteNodeID(0), ResultMask: 63}}},
		&ua.BrowseNextRequest{RequestHeader: hdr(), ContinuationPoints: [][]byte{{1, 2, 3}}},
		&ua.WriteRequest{RequestHeader: hdr(), NodesToWrite: []*ua.WriteValue{{NodeID: nid("Line1/Press3/Setpoint"), AttributeID: ua.AttributeIDValue,
			Value: &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(float32(1))}}}},
		&ua.CreateSubscriptionRequest{RequestHeader: hdr(), RequestedPublishingInterval: 100, PublishingEnabled: true},
		&ua.CreateMonitoredItemsRequest{RequestHeader: hdr(), SubscriptionID: 1, ItemsToCreate: []*ua.MonitoredItemCreateRequest{{
			ItemToMonitor:       &ua.ReadValueID{NodeID: nid("Line1/Press3/Temperature"), AttributeID: ua.AttributeIDValue, DataEncoding: qn},
			MonitoringMode:      ua.MonitoringModeReporting,
			RequestedParameters: &ua.MonitoringParameters{QueueSize: 3, Filter: ua.NewExtensionObject(&ua.DataChangeFilter{Trigger: 1, DeadbandType: 2, DeadbandValue: 5})},
		}}},
		&ua.PublishRequest{RequestHeader: hdr()},
		&ua.TranslateBrowsePathsToNodeIDsRequest{RequestHeader: hdr(), BrowsePaths: []*ua.BrowsePath{{StartingNode: ua.NewNumericNodeID(0, id.ObjectsFolder),
			RelativePath: &ua.RelativePath{Elements: []*ua.RelativePathElement{{ReferenceTypeID: ua.NewTwoByteNodeID(0), TargetName: &ua.QualifiedName{NamespaceIndex: 1, Name: "Line1"}}}}}}},
		&ua.GetEndpointsRequest{RequestHeader: hdr(), EndpointURL: "opc.tcp://localhost:4840/"},
		&ua.DeleteSubscriptionsRequest{RequestHeader: hdr(), SubscriptionIDs: []uint32{1, 2}},
	} {
		f.Add(encodeRequest(f, req))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, v, err := ua.DecodeService(data)
		if err != nil {
			return
		}
		req, ok := v.(ua.Request)
		if !ok || req.Header() == nil {
			return
		}
		store := mapping.NewStore()
		srv, err := New(Options{Listen: "127.0.0.1:0", ApplicationURI: "urn:fuzz", Writer: &fakeWriter{}}, testTable(store))
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		c := &channel{srv: srv, closed: make(chan struct{})}
		close(c.closed) // responses of queued publish requests go nowhere
		cs := srv.sessions.create(c, &ua.CreateSessionRequest{RequestHeader: hdr()}).(*ua.CreateSessionResponse)
		act := &ua.ActivateSessionRequest{RequestHeader: hdr()}
		act.RequestHeader.AuthenticationToken = cs.AuthenticationToken
		if r, ok := srv.sessions.activate(context.Background(), c, act).(*ua.ActivateSessionResponse); !ok || r.ResponseHeader.ServiceResult != ua.StatusOK {
			t.Fatal("activate failed")
		}
		if _, ok := req.(*ua.CreateSubscriptionRequest); !ok {
			// Most seeds need a subscription to exist.
			srv.handle(context.Background(), c, 1, &ua.CreateSubscriptionRequest{RequestHeader: &ua.RequestHeader{AuthenticationToken: cs.AuthenticationToken}, RequestedPublishingInterval: 100, PublishingEnabled: true})
		}
		req.Header().AuthenticationToken = cs.AuthenticationToken
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		resp := srv.handle(ctx, c, 2, req)
		if resp == nil {
			return
		}
		if _, err := ua.Encode(resp); err != nil {
			t.Fatalf("%T: response does not encode: %v", resp, err)
		}
	})
}
