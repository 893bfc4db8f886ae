//go:build !unix

package main

import "os"

// terminalWidth is 0 where mapbench does not ask the terminal its width.
func terminalWidth(*os.File) int { return 0 }
