package main

import (
	"fmt"
	"strings"

	"github.com/prometheus/common/model"
)

// labelsValue is a repeatable NAME=VALUE flag collecting labels such as
// Prometheus's global.external_labels: each name once, a valid label name
// not reserved (__*), with a non-empty value.
type labelsValue struct {
	flag string
	m    *map[string]string
}

func (v labelsValue) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	switch {
	case !ok:
		return fmt.Errorf("%s %q: want NAME=VALUE", v.flag, s)
	case !model.LegacyValidation.IsValidLabelName(name):
		return fmt.Errorf("%s %q: %q is not a valid label name", v.flag, s, name)
	case strings.HasPrefix(name, model.ReservedLabelPrefix):
		return fmt.Errorf("%s %q: label names starting with %s are reserved", v.flag, s, model.ReservedLabelPrefix)
	case value == "":
		return fmt.Errorf("%s %q: the value is empty", v.flag, s)
	}
	if *v.m == nil {
		*v.m = map[string]string{}
	}
	if old, dup := (*v.m)[name]; dup {
		return fmt.Errorf("%s %q: %s is already %q", v.flag, s, name, old)
	}
	(*v.m)[name] = value
	return nil
}

func (v labelsValue) String() string {
	if v.m == nil || len(*v.m) == 0 {
		return ""
	}
	ls := model.LabelSet{}
	for k, val := range *v.m {
		ls[model.LabelName(k)] = model.LabelValue(val)
	}
	return ls.String()
}

// IsCumulative makes the flag repeatable.
func (labelsValue) IsCumulative() bool { return true }
