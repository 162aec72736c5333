package service

import (
	"context"
	"errors"
	"runtime"
	"testing"
)

func TestWindowsPaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		programData, config, pki string
	}{
		{`C:\ProgramData`, `C:\ProgramData\Tagbridge\tagbridge.yaml`, `C:\ProgramData\Tagbridge\pki`},
		{`D:\Data\`, `D:\Data\Tagbridge\tagbridge.yaml`, `D:\Data\Tagbridge\pki`},
		{``, `C:\ProgramData\Tagbridge\tagbridge.yaml`, `C:\ProgramData\Tagbridge\pki`},
	}
	for _, tt := range tests {
		c, p := windowsPaths(tt.programData)
		if c != tt.config || p != tt.pki {
			t.Errorf("windowsPaths(%q) = %q, %q; want %q, %q", tt.programData, c, p, tt.config, tt.pki)
		}
	}
}

func TestDefaultPaths(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("covered by TestWindowsPaths")
	}
	if got := DefaultConfigPath(); got != "/etc/tagbridge/tagbridge.yaml" {
		t.Errorf("DefaultConfigPath() = %q", got)
	}
	if got := DefaultPKIDir(); got != "/var/lib/tagbridge/pki" {
		t.Errorf("DefaultPKIDir() = %q", got)
	}
}

func TestRunNotHandledOutsideWindows(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("needs a console process outside the SCM; cross-compiled and vetted instead")
	}
	called := false
	handled, err := Run("Tagbridge", func(context.Context) error { called = true; return nil })
	if handled || err != nil || called {
		t.Errorf("Run = %v, %v (run called %v); want false, nil and run not called", handled, err, called)
	}
	if IsService() {
		t.Error("IsService() = true outside Windows")
	}
	if _, err := OpenLog("Tagbridge"); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("OpenLog: %v, want ErrUnsupported", err)
	}
}
