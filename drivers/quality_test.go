package drivers_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tagbridge/tagbridge/drivers"
)

func TestQualityString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		q    drivers.Quality
		want string
	}{
		{drivers.Good, "Good"},
		{drivers.Uncertain, "Uncertain"},
		{drivers.UncertainEngineeringUnitsExceeded, "UncertainEngineeringUnitsExceeded"},
		{drivers.UncertainLastUsableValue, "UncertainLastUsableValue"},
		{drivers.Bad, "Bad"},
		{drivers.BadInternalError, "BadInternalError"},
		{drivers.BadCommunicationError, "BadCommunicationError"},
		{drivers.BadTimeout, "BadTimeout"},
		{drivers.BadNoCommunication, "BadNoCommunication"},
		{drivers.BadWaitingForInitialData, "BadWaitingForInitialData"},
		{drivers.BadNotWritable, "BadNotWritable"},
		{drivers.BadOutOfRange, "BadOutOfRange"},
		{drivers.BadTypeMismatch, "BadTypeMismatch"},
		{drivers.BadConfigurationError, "BadConfigurationError"},
		{drivers.BadNotConnected, "BadNotConnected"},
		{drivers.BadDeviceFailure, "BadDeviceFailure"},
		{drivers.BadSensorFailure, "BadSensorFailure"},
		{drivers.BadOutOfService, "BadOutOfService"},
		{drivers.BadNotSupported, "BadNotSupported"},
		{drivers.Quality(0x80AB0000), "0x80AB0000"},
		{drivers.Quality(1), "0x00000001"},
	}
	for _, tt := range tests {
		if got := tt.q.String(); got != tt.want {
			t.Errorf("Quality(0x%08X).String() = %q, want %q", uint32(tt.q), got, tt.want)
		}
	}
}

func TestQualityClass(t *testing.T) {
	t.Parallel()
	tests := []struct {
		q                    drivers.Quality
		good, uncertain, bad bool
	}{
		{drivers.Good, true, false, false},
		{drivers.Quality(0x00A00000), true, false, false}, // GoodLocalOverride: any Good subcode
		{drivers.Uncertain, false, true, false},
		{drivers.UncertainEngineeringUnitsExceeded, false, true, false},
		{drivers.Bad, false, false, true},
		{drivers.BadCommunicationError, false, false, true},
		{drivers.BadOutOfService, false, false, true},
	}
	for _, tt := range tests {
		if tt.q.IsGood() != tt.good || tt.q.IsUncertain() != tt.uncertain || tt.q.IsBad() != tt.bad {
			t.Errorf("%v: IsGood %v IsUncertain %v IsBad %v, want %v %v %v", tt.q,
				tt.q.IsGood(), tt.q.IsUncertain(), tt.q.IsBad(), tt.good, tt.uncertain, tt.bad)
		}
	}
}

func TestQualityError(t *testing.T) {
	t.Parallel()
	cause := errors.New("exception 2")
	err := fmt.Errorf("modbus plc1: read hr:5: %w", &drivers.QualityError{Quality: drivers.BadConfigurationError, Err: cause})
	var qe *drivers.QualityError
	if !errors.As(err, &qe) || qe.Quality != drivers.BadConfigurationError {
		t.Fatalf("errors.As did not find the QualityError in %v", err)
	}
	if !errors.Is(err, cause) {
		t.Error("QualityError does not unwrap to its cause")
	}
	if qe.Error() != "exception 2" {
		t.Errorf("Error() = %q, want the cause's text", qe.Error())
	}
}
