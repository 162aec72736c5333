package mtconnect

import (
	"encoding/xml"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// observation is one Sample, Event or Condition entry of a streams document.
type observation struct {
	ID         string
	Category   string // SAMPLE, EVENT or CONDITION (from the container element)
	Level      string // CONDITION only: Normal, Warning, Fault or Unavailable
	NativeCode string // CONDITION only
	Seq        uint64
	Time       time.Time
	Value      string // the value; for a CONDITION the message
}

// streamsDoc is a decoded MTConnectStreams document (/current or /sample).
type streamsDoc struct {
	Header seqHeader
	Obs    []observation // sorted by sequence
}

type xmlEntry struct {
	Key     string `xml:"key,attr"`
	Removed string `xml:"removed,attr"`
	Text    string `xml:",chardata"`
}

type xmlObs struct {
	XMLName    xml.Name
	DataItemID string     `xml:"dataItemId,attr"`
	Timestamp  string     `xml:"timestamp,attr"`
	Sequence   string     `xml:"sequence,attr"`
	NativeCode string     `xml:"nativeCode,attr"`
	Text       string     `xml:",chardata"`
	Entries    []xmlEntry `xml:"Entry"` // DATA_SET / TABLE representations
}

type xmlObsList struct {
	Items []xmlObs `xml:",any"`
}

type xmlComponentStream struct {
	Samples   xmlObsList `xml:"Samples"`
	Events    xmlObsList `xml:"Events"`
	Condition xmlObsList `xml:"Condition"`
}

type xmlStreamsDoc struct {
	Header  header `xml:"Header"`
	Streams struct {
		Devices []struct {
			Name       string               `xml:"name,attr"`
			UUID       string               `xml:"uuid,attr"`
			Components []xmlComponentStream `xml:"ComponentStream"`
		} `xml:"DeviceStream"`
	} `xml:"Streams"`
}

// parseStreams decodes an MTConnectStreams document. device, when not empty,
// keeps only the DeviceStream with that name or uuid. An MTConnectError
// document returns an *AgentError.
func parseStreams(b []byte, device string) (*streamsDoc, error) {
	var doc xmlStreamsDoc
	if err := decodeRoot(b, "MTConnectStreams", &doc); err != nil {
		return nil, err
	}
	h, err := doc.Header.decode()
	if err != nil {
		return nil, fmt.Errorf("malformed XML: %w", err)
	}
	out := &streamsDoc{Header: h}
	now := time.Now()
	for _, ds := range doc.Streams.Devices {
		if device != "" && ds.Name != device && ds.UUID != device {
			continue
		}
		for _, cs := range ds.Components {
			for _, g := range []struct {
				cat  string
				list []xmlObs
			}{{"SAMPLE", cs.Samples.Items}, {"EVENT", cs.Events.Items}, {"CONDITION", cs.Condition.Items}} {
				for _, x := range g.list {
					if o, ok := x.decode(g.cat); ok {
						if o.Time.IsZero() {
							o.Time = now // no (or a bad) agent timestamp: the time we received it
						}
						out.Obs = append(out.Obs, o)
					}
				}
			}
		}
	}
	// A /sample document groups observations by component, not by time;
	// they must be applied in sequence order or an older value wins.
	sort.SliceStable(out.Obs, func(i, j int) bool { return out.Obs[i].Seq < out.Obs[j].Seq })
	return out, nil
}

func (x xmlObs) decode(cat string) (observation, bool) {
	id := strings.TrimSpace(x.DataItemID)
	if id == "" {
		return observation{}, false
	}
	o := observation{ID: id, Category: cat, Value: strings.TrimSpace(x.Text)}
	o.Seq, _ = strconv.ParseUint(strings.TrimSpace(x.Sequence), 10, 64)
	o.Time, _ = parseTime(x.Timestamp)
	if cat == "CONDITION" {
		o.Level = x.XMLName.Local
		o.NativeCode = strings.TrimSpace(x.NativeCode)
		return o, true
	}
	if len(x.Entries) > 0 {
		parts := make([]string, 0, len(x.Entries))
		for _, e := range x.Entries {
			if strings.EqualFold(e.Removed, "true") {
				continue
			}
			parts = append(parts, e.Key+"="+strings.TrimSpace(e.Text))
		}
		o.Value = strings.Join(parts, " ")
	}
	return o, true
}
