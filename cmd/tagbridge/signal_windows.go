//go:build windows

package main

import "os"

// Windows has no SIGHUP: a change of the config file reloads it.
func notifyHUP(chan<- os.Signal) {}
