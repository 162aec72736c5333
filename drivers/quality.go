package drivers

import "fmt"

// Quality is an OPC UA StatusCode value (Part 4, 7.34). The high bits say
// Good (0x0), Uncertain (0x4) or Bad (0x8).
type Quality uint32

// Quality codes used by drivers, mapping and the scheduler (DESIGN.md section 7).
const (
	Good                              Quality = 0x00000000
	Uncertain                         Quality = 0x40000000
	UncertainEngineeringUnitsExceeded Quality = 0x40940000
	UncertainLastUsableValue          Quality = 0x40900000
	Bad                               Quality = 0x80000000
	BadInternalError                  Quality = 0x80020000
	BadCommunicationError             Quality = 0x80050000
	BadTimeout                        Quality = 0x800A0000
	BadNoCommunication                Quality = 0x80310000
	BadWaitingForInitialData          Quality = 0x80320000
	BadNotWritable                    Quality = 0x803B0000
	BadOutOfRange                     Quality = 0x803C0000
	BadTypeMismatch                   Quality = 0x80740000
	BadConfigurationError             Quality = 0x80890000
	BadNotConnected                   Quality = 0x808A0000
	BadDeviceFailure                  Quality = 0x808B0000
	BadSensorFailure                  Quality = 0x808C0000
	BadOutOfService                   Quality = 0x808D0000
	BadNotSupported                   Quality = 0x803D0000
)

// IsGood reports whether q is Good.
func (q Quality) IsGood() bool { return q&0xC0000000 == 0 }

// IsBad reports whether q is Bad.
func (q Quality) IsBad() bool { return q&0x80000000 != 0 }

// IsUncertain reports whether q is Uncertain.
func (q Quality) IsUncertain() bool { return q&0xC0000000 == 0x40000000 }

var qualityNames = map[Quality]string{
	Good:                              "Good",
	Uncertain:                         "Uncertain",
	UncertainEngineeringUnitsExceeded: "UncertainEngineeringUnitsExceeded",
	UncertainLastUsableValue:          "UncertainLastUsableValue",
	Bad:                               "Bad",
	BadInternalError:                  "BadInternalError",
	BadCommunicationError:             "BadCommunicationError",
	BadTimeout:                        "BadTimeout",
	BadNoCommunication:                "BadNoCommunication",
	BadWaitingForInitialData:          "BadWaitingForInitialData",
	BadNotWritable:                    "BadNotWritable",
	BadOutOfRange:                     "BadOutOfRange",
	BadTypeMismatch:                   "BadTypeMismatch",
	BadConfigurationError:             "BadConfigurationError",
	BadNotConnected:                   "BadNotConnected",
	BadDeviceFailure:                  "BadDeviceFailure",
	BadSensorFailure:                  "BadSensorFailure",
	BadOutOfService:                   "BadOutOfService",
	BadNotSupported:                   "BadNotSupported",
}

func (q Quality) String() string {
	if s, ok := qualityNames[q]; ok {
		return s
	}
	return fmt.Sprintf("0x%08X", uint32(q))
}

// QualityError is an error that carries the Quality a failed point or write
// should report. Drivers return it (wrapped or not) so the scheduler and the
// OPC UA server can map an error to a status code.
type QualityError struct {
	Quality Quality
	Err     error
}

func (e *QualityError) Error() string { return e.Err.Error() }
func (e *QualityError) Unwrap() error { return e.Err }
