package config

import (
	"github.com/prometheus/prometheus/discovery"
	"github.com/prometheus/prometheus/discovery/file"
)

func fileSDFiles(c discovery.Config) []string {
	if f, ok := c.(*file.SDConfig); ok {
		return f.Files
	}
	return nil
}
