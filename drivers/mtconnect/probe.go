package mtconnect

import (
	"encoding/xml"
	"fmt"
	"strings"
)

// dataItem is one DataItem of the probe, with the component path it sits under.
type dataItem struct {
	ID             string
	Name           string
	Category       string // SAMPLE, EVENT or CONDITION
	Type           string // e.g. POSITION, SPINDLE_SPEED, EXECUTION
	SubType        string // e.g. ACTUAL
	Units          string // e.g. MILLIMETER
	NativeUnits    string
	Representation string // VALUE (default), TIME_SERIES, DATA_SET, TABLE, DISCRETE
	Path           []string
}

// probe is the decoded /probe of one device.
type probe struct {
	Header seqHeader
	Device string // device name
	UUID   string
	Items  []dataItem
	byID   map[string]int
	byName map[string]int
}

type xmlDataItem struct {
	ID             string `xml:"id,attr"`
	Name           string `xml:"name,attr"`
	Category       string `xml:"category,attr"`
	Type           string `xml:"type,attr"`
	SubType        string `xml:"subType,attr"`
	Units          string `xml:"units,attr"`
	NativeUnits    string `xml:"nativeUnits,attr"`
	Representation string `xml:"representation,attr"`
}

// xmlComponent is a Device, an Agent or any component (Axes, Linear,
// Controller, Path, Systems, ... or the 2.x generic Component element).
type xmlComponent struct {
	XMLName   xml.Name
	ID        string `xml:"id,attr"`
	Name      string `xml:"name,attr"`
	UUID      string `xml:"uuid,attr"`
	DataItems struct {
		Items []xmlDataItem `xml:"DataItem"`
	} `xml:"DataItems"`
	Components struct {
		Items []xmlComponent `xml:",any"`
	} `xml:"Components"`
}

type xmlProbeDoc struct {
	Header  header `xml:"Header"`
	Devices struct {
		Items []xmlComponent `xml:",any"` // Device (and the 2.x Agent, skipped)
	} `xml:"Devices"`
}

// parseProbe decodes an MTConnectDevices document and selects the device
// named (or with the uuid) device; "" selects the first Device.
func parseProbe(b []byte, device string) (*probe, error) {
	var doc xmlProbeDoc
	if err := decodeRoot(b, "MTConnectDevices", &doc); err != nil {
		return nil, err
	}
	h, err := doc.Header.decode()
	if err != nil {
		return nil, fmt.Errorf("malformed XML: %w", err)
	}
	var dev *xmlComponent
	var names []string
	for i := range doc.Devices.Items {
		c := &doc.Devices.Items[i]
		if c.XMLName.Local != "Device" {
			continue
		}
		names = append(names, c.Name)
		if dev == nil && (device == "" || c.Name == device || (c.UUID != "" && c.UUID == device)) {
			dev = c
		}
	}
	if dev == nil {
		if device == "" {
			return nil, fmt.Errorf("probe: no Device in the document")
		}
		return nil, fmt.Errorf("probe: no device %q (agent has %q)", device, names)
	}
	p := &probe{Header: h, Device: dev.Name, UUID: dev.UUID, byID: map[string]int{}, byName: map[string]int{}}
	p.walk(dev, nil, 0)
	if len(p.Items) == 0 {
		return nil, fmt.Errorf("probe: device %q has no DataItems", dev.Name)
	}
	return p, nil
}

// maxDepth bounds the component tree; real devices are a few levels deep.
const maxDepth = 64

func (p *probe) walk(c *xmlComponent, path []string, depth int) {
	if depth > maxDepth {
		return
	}
	for _, x := range c.DataItems.Items {
		id := strings.TrimSpace(x.ID)
		if id == "" {
			continue // an id is required by the standard; without one the item is unreadable
		}
		if _, dup := p.byID[id]; dup {
			continue
		}
		it := dataItem{
			ID: id, Name: strings.TrimSpace(x.Name), Category: strings.ToUpper(strings.TrimSpace(x.Category)),
			Type: strings.TrimSpace(x.Type), SubType: strings.TrimSpace(x.SubType), Units: strings.TrimSpace(x.Units),
			NativeUnits: strings.TrimSpace(x.NativeUnits), Representation: strings.ToUpper(strings.TrimSpace(x.Representation)),
			Path: append([]string(nil), path...),
		}
		p.byID[id] = len(p.Items)
		if it.Name != "" {
			if _, dup := p.byName[it.Name]; !dup {
				p.byName[it.Name] = len(p.Items)
			}
		}
		p.Items = append(p.Items, it)
	}
	for i := range c.Components.Items {
		sub := &c.Components.Items[i]
		p.walk(sub, append(path[:len(path):len(path)], segment(sub)), depth+1)
	}
}

// segment names a component in the auto tag path: its element type, with its
// name in brackets when it has one that differs from the type
// (Linear[X], Rotary[C], Axes[base]; Controller[controller] -> Controller).
func segment(c *xmlComponent) string {
	typ := c.XMLName.Local
	if typ == "Component" { // 2.x generic form: the name is all there is
		typ = ""
	}
	name := strings.TrimSpace(c.Name)
	switch {
	case typ == "" && name == "":
		return clean(c.ID)
	case typ == "":
		return clean(name)
	case name == "" || strings.EqualFold(name, typ):
		return clean(typ)
	}
	return clean(typ + "[" + name + "]")
}

// clean keeps a path segment free of the folder separator.
func clean(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "_"
	}
	return strings.ReplaceAll(s, "/", "_")
}

// item returns the DataItem an address refers to.
func (p *probe) item(a addr) (dataItem, bool) {
	var i int
	var ok bool
	if a.byName {
		i, ok = p.byName[a.key]
	} else {
		i, ok = p.byID[a.key]
	}
	if !ok {
		return dataItem{}, false
	}
	return p.Items[i], true
}
