package uaserver

import (
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
)

// serverInfo is what namespace 0 reports about the server.
type serverInfo struct {
	namespaces []string // [0] = OPC UA, [1] = application URI
	appURI     string
	product    string
	version    string
	commit     string
	start      time.Time
	now        func() time.Time
	limits     Limits
}

func (i *serverInfo) buildInfo() *ua.BuildInfo {
	return &ua.BuildInfo{
		ProductURI: "urn:tagbridge", ManufacturerName: "Tagbridge", ProductName: i.product,
		SoftwareVersion: i.version, BuildNumber: i.commit, BuildDate: i.start,
	}
}

// buildNS0 adds the part of namespace 0 that clients browse and read: the
// standard folders, the Server object with its status, and the type nodes
// our own nodes point to. It is a small hand-written subset; the full
// standard nodeset is not loaded (it costs memory and start time and no
// client of a gateway needs it).
func buildNS0(sp *space, info *serverInfo) {
	n := func(num uint32, class ua.NodeClass, name string) *node {
		return sp.add(&node{
			id: ua.NewNumericNodeID(0, num), class: class,
			name: &ua.QualifiedName{Name: name}, display: ua.NewLocalizedText(name),
		})
	}
	sub := func(parent uint32, typ uint32, child *node) *node {
		sp.link(sp.num(parent), typ, child)
		return child
	}

	// Reference types first: everything else links with them.
	refType := func(num uint32, name, inverse string, parent uint32, abstract, symmetric bool) {
		r := n(num, ua.NodeClassReferenceType, name)
		r.abstract, r.symmetric, r.inverseName = abstract, symmetric, inverse
		if parent != 0 {
			sub(parent, id.HasSubtype, r)
		}
	}
	refType(id.References, "References", "", 0, true, true)
	refType(id.HierarchicalReferences, "HierarchicalReferences", "", id.References, true, false)
	refType(id.NonHierarchicalReferences, "NonHierarchicalReferences", "", id.References, true, false)
	refType(id.HasChild, "HasChild", "", id.HierarchicalReferences, true, false)
	refType(id.Organizes, "Organizes", "OrganizedBy", id.HierarchicalReferences, false, false)
	refType(id.HasEventSource, "HasEventSource", "EventSourceOf", id.HierarchicalReferences, false, false)
	refType(id.HasNotifier, "HasNotifier", "NotifierOf", id.HasEventSource, false, false)
	refType(id.Aggregates, "Aggregates", "", id.HasChild, true, false)
	refType(id.HasSubtype, "HasSubtype", "SubtypeOf", id.HasChild, false, false)
	refType(id.HasComponent, "HasComponent", "ComponentOf", id.Aggregates, false, false)
	refType(id.HasProperty, "HasProperty", "PropertyOf", id.Aggregates, false, false)
	refType(id.HasTypeDefinition, "HasTypeDefinition", "TypeDefinitionOf", id.NonHierarchicalReferences, false, false)
	refType(id.HasModellingRule, "HasModellingRule", "ModellingRuleOf", id.NonHierarchicalReferences, false, false)
	refType(id.HasEncoding, "HasEncoding", "EncodingOf", id.NonHierarchicalReferences, false, false)
	refType(id.GeneratesEvent, "GeneratesEvent", "GeneratedBy", id.NonHierarchicalReferences, false, false)

	// Object types.
	objType := func(num uint32, name string, parent uint32) {
		t := n(num, ua.NodeClassObjectType, name)
		if parent != 0 {
			sub(parent, id.HasSubtype, t)
		}
	}
	objType(id.BaseObjectType, "BaseObjectType", 0)
	objType(id.FolderType, "FolderType", id.BaseObjectType)
	objType(id.ServerType, "ServerType", id.BaseObjectType)
	objType(id.ServerCapabilitiesType, "ServerCapabilitiesType", id.BaseObjectType)
	objType(id.OperationLimitsType, "OperationLimitsType", id.FolderType)

	// Data types.
	dataType := func(num uint32, name string, parent uint32, abstract bool) {
		t := n(num, ua.NodeClassDataType, name)
		t.abstract = abstract
		if parent != 0 {
			sub(parent, id.HasSubtype, t)
		}
	}
	dataType(id.BaseDataType, "BaseDataType", 0, true)
	dataType(id.Boolean, "Boolean", id.BaseDataType, false)
	dataType(id.Number, "Number", id.BaseDataType, true)
	dataType(id.Integer, "Integer", id.Number, true)
	dataType(id.UInteger, "UInteger", id.Number, true)
	dataType(id.SByte, "SByte", id.Integer, false)
	dataType(id.Int16, "Int16", id.Integer, false)
	dataType(id.Int32, "Int32", id.Integer, false)
	dataType(id.Int64, "Int64", id.Integer, false)
	dataType(id.Byte, "Byte", id.UInteger, false)
	dataType(id.UInt16, "UInt16", id.UInteger, false)
	dataType(id.UInt32, "UInt32", id.UInteger, false)
	dataType(id.UInt64, "UInt64", id.UInteger, false)
	dataType(id.Float, "Float", id.Number, false)
	dataType(id.Double, "Double", id.Number, false)
	dataType(id.Duration, "Duration", id.Double, false)
	dataType(id.String, "String", id.BaseDataType, false)
	dataType(id.DateTime, "DateTime", id.BaseDataType, false)
	dataType(id.UtcTime, "UtcTime", id.DateTime, false)
	dataType(id.ByteString, "ByteString", id.BaseDataType, false)
	dataType(id.LocalizedText, "LocalizedText", id.BaseDataType, false)
	dataType(id.QualifiedName, "QualifiedName", id.BaseDataType, false)
	dataType(id.NodeID, "NodeId", id.BaseDataType, false)
	dataType(id.StatusCode, "StatusCode", id.BaseDataType, false)
	dataType(id.Structure, "Structure", id.BaseDataType, true)
	dataType(id.Enumeration, "Enumeration", id.BaseDataType, true)
	dataType(id.Range, "Range", id.Structure, false)
	dataType(id.EUInformation, "EUInformation", id.Structure, false)
	dataType(id.BuildInfo, "BuildInfo", id.Structure, false)
	dataType(id.ServerStatusDataType, "ServerStatusDataType", id.Structure, false)
	dataType(id.ServerState, "ServerState", id.Enumeration, false)

	// Variable types.
	varType := func(num uint32, name string, parent, dt uint32, abstract bool) {
		t := n(num, ua.NodeClassVariableType, name)
		t.abstract, t.dataType, t.valueRank = abstract, ua.NewNumericNodeID(0, dt), -2
		if parent != 0 {
			sub(parent, id.HasSubtype, t)
		}
	}
	varType(id.BaseVariableType, "BaseVariableType", 0, id.BaseDataType, true)
	varType(id.BaseDataVariableType, "BaseDataVariableType", id.BaseVariableType, id.BaseDataType, false)
	varType(id.PropertyType, "PropertyType", id.BaseVariableType, id.BaseDataType, false)
	varType(id.DataItemType, "DataItemType", id.BaseDataVariableType, id.BaseDataType, false)
	varType(id.AnalogItemType, "AnalogItemType", id.DataItemType, id.Number, false)
	varType(id.ServerStatusType, "ServerStatusType", id.BaseDataVariableType, id.ServerStatusDataType, false)
	varType(id.BuildInfoType, "BuildInfoType", id.BaseDataVariableType, id.BuildInfo, false)

	// Folders.
	folder := func(num uint32, name string, parent uint32) {
		f := n(num, ua.NodeClassObject, name)
		sp.link(f, id.HasTypeDefinition, sp.num(id.FolderType))
		if parent != 0 {
			sub(parent, id.Organizes, f)
		}
	}
	folder(id.RootFolder, "Root", 0)
	folder(id.ObjectsFolder, "Objects", id.RootFolder)
	folder(id.TypesFolder, "Types", id.RootFolder)
	folder(id.ViewsFolder, "Views", id.RootFolder)
	folder(id.ObjectTypesFolder, "ObjectTypes", id.TypesFolder)
	folder(id.VariableTypesFolder, "VariableTypes", id.TypesFolder)
	folder(id.DataTypesFolder, "DataTypes", id.TypesFolder)
	folder(id.ReferenceTypesFolder, "ReferenceTypes", id.TypesFolder)
	sub(id.ObjectTypesFolder, id.Organizes, sp.num(id.BaseObjectType))
	sub(id.VariableTypesFolder, id.Organizes, sp.num(id.BaseVariableType))
	sub(id.DataTypesFolder, id.Organizes, sp.num(id.BaseDataType))
	sub(id.ReferenceTypesFolder, id.Organizes, sp.num(id.References))

	// The Server object.
	obj := func(num uint32, name string, parent, typ, typeDef uint32) {
		o := n(num, ua.NodeClassObject, name)
		sp.link(o, id.HasTypeDefinition, sp.num(typeDef))
		sub(parent, typ, o)
	}
	variable := func(num uint32, name string, parent, typ, typeDef, dt uint32, rank int32, v func() *ua.Variant) {
		x := n(num, ua.NodeClassVariable, name)
		x.dataType, x.valueRank, x.access, x.dyn = ua.NewNumericNodeID(0, dt), rank, byte(ua.AccessLevelTypeCurrentRead), v
		sp.link(x, id.HasTypeDefinition, sp.num(typeDef))
		sub(parent, typ, x)
	}
	constant := func(v any) func() *ua.Variant {
		vv := ua.MustVariant(v)
		return func() *ua.Variant { return vv }
	}
	now := info.now
	obj(id.Server, "Server", id.ObjectsFolder, id.Organizes, id.ServerType)
	variable(id.Server_ServerArray, "ServerArray", id.Server, id.HasProperty, id.PropertyType, id.String, 1, constant([]string{info.appURI}))
	variable(id.Server_NamespaceArray, "NamespaceArray", id.Server, id.HasProperty, id.PropertyType, id.String, 1, constant(info.namespaces))
	variable(id.Server_ServiceLevel, "ServiceLevel", id.Server, id.HasProperty, id.PropertyType, id.Byte, -1, constant(uint8(255)))
	variable(id.Server_Auditing, "Auditing", id.Server, id.HasProperty, id.PropertyType, id.Boolean, -1, constant(false))
	variable(id.Server_ServerStatus, "ServerStatus", id.Server, id.HasComponent, id.ServerStatusType, id.ServerStatusDataType, -1, func() *ua.Variant {
		return ua.MustVariant(ua.NewExtensionObject(&ua.ServerStatusDataType{
			StartTime: info.start, CurrentTime: now(), State: ua.ServerStateRunning,
			BuildInfo: info.buildInfo(), ShutdownReason: ua.NewLocalizedText(""),
		}))
	})
	st := uint32(id.Server_ServerStatus)
	variable(id.Server_ServerStatus_StartTime, "StartTime", st, id.HasComponent, id.BaseDataVariableType, id.UtcTime, -1, constant(info.start))
	variable(id.Server_ServerStatus_CurrentTime, "CurrentTime", st, id.HasComponent, id.BaseDataVariableType, id.UtcTime, -1, func() *ua.Variant { return ua.MustVariant(now()) })
	variable(id.Server_ServerStatus_State, "State", st, id.HasComponent, id.BaseDataVariableType, id.ServerState, -1, constant(int32(ua.ServerStateRunning)))
	variable(id.Server_ServerStatus_SecondsTillShutdown, "SecondsTillShutdown", st, id.HasComponent, id.BaseDataVariableType, id.UInt32, -1, constant(uint32(0)))
	variable(id.Server_ServerStatus_ShutdownReason, "ShutdownReason", st, id.HasComponent, id.BaseDataVariableType, id.LocalizedText, -1, constant(ua.NewLocalizedText("")))
	variable(id.Server_ServerStatus_BuildInfo, "BuildInfo", st, id.HasComponent, id.BuildInfoType, id.BuildInfo, -1, constant(ua.NewExtensionObject(info.buildInfo())))
	bi := info.buildInfo()
	b := uint32(id.Server_ServerStatus_BuildInfo)
	variable(id.Server_ServerStatus_BuildInfo_ProductURI, "ProductUri", b, id.HasComponent, id.BaseDataVariableType, id.String, -1, constant(bi.ProductURI))
	variable(id.Server_ServerStatus_BuildInfo_ManufacturerName, "ManufacturerName", b, id.HasComponent, id.BaseDataVariableType, id.String, -1, constant(bi.ManufacturerName))
	variable(id.Server_ServerStatus_BuildInfo_ProductName, "ProductName", b, id.HasComponent, id.BaseDataVariableType, id.String, -1, constant(bi.ProductName))
	variable(id.Server_ServerStatus_BuildInfo_SoftwareVersion, "SoftwareVersion", b, id.HasComponent, id.BaseDataVariableType, id.String, -1, constant(bi.SoftwareVersion))
	variable(id.Server_ServerStatus_BuildInfo_BuildNumber, "BuildNumber", b, id.HasComponent, id.BaseDataVariableType, id.String, -1, constant(bi.BuildNumber))
	variable(id.Server_ServerStatus_BuildInfo_BuildDate, "BuildDate", b, id.HasComponent, id.BaseDataVariableType, id.UtcTime, -1, constant(bi.BuildDate))

	obj(id.Server_ServerCapabilities, "ServerCapabilities", id.Server, id.HasComponent, id.ServerCapabilitiesType)
	obj(id.Server_ServerCapabilities_OperationLimits, "OperationLimits", id.Server_ServerCapabilities, id.HasComponent, id.OperationLimitsType)
	ol := uint32(id.Server_ServerCapabilities_OperationLimits)
	lim := info.limits
	for _, l := range []struct {
		num  uint32
		name string
		v    uint32
	}{
		{id.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead, "MaxNodesPerRead", lim.MaxNodesPerRead},
		{id.Server_ServerCapabilities_OperationLimits_MaxNodesPerWrite, "MaxNodesPerWrite", lim.MaxNodesPerWrite},
		{id.Server_ServerCapabilities_OperationLimits_MaxNodesPerBrowse, "MaxNodesPerBrowse", lim.MaxNodesPerBrowse},
		{id.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall, "MaxMonitoredItemsPerCall", lim.MaxMonitoredItemsPerCall},
		{id.Server_ServerCapabilities_OperationLimits_MaxNodesPerTranslateBrowsePathsToNodeIDs, "MaxNodesPerTranslateBrowsePathsToNodeIds", lim.MaxNodesPerBrowse},
		{id.Server_ServerCapabilities_OperationLimits_MaxNodesPerRegisterNodes, "MaxNodesPerRegisterNodes", lim.MaxNodesPerRead},
	} {
		variable(l.num, l.name, ol, id.HasProperty, id.PropertyType, id.UInt32, -1, constant(l.v))
	}
	variable(id.Server_ServerCapabilities_MaxBrowseContinuationPoints, "MaxBrowseContinuationPoints", id.Server_ServerCapabilities, id.HasProperty, id.PropertyType, id.UInt16, -1, constant(uint16(lim.MaxBrowseContinuationPoints)))
}
