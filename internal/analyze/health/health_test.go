package health

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func tr(vs ...float64) Track { return Track(vs) }

var nan = math.NaN()

func TestJudge(t *testing.T) {
	t.Parallel()
	const step = time.Minute
	th := Thresholds{Lookback: 10 * time.Minute, XIDRepeat: 2, XIDPersist: 5 * time.Minute}
	tests := []struct {
		name     string
		tracks   Tracks
		unusable bool
		xids     []int
		reason   string
	}{
		{name: "nothing reported", tracks: Tracks{}},
		{name: "remap failure now", tracks: Tracks{RemapFailure: tr(0, 0, 1, 1)}, unusable: true, reason: "row remapping failed"},
		{name: "remap failure cleared (GPU replaced)", tracks: Tracks{RemapFailure: tr(1, 1, 0, 0)}},
		{name: "remap failure before the lookback", tracks: Tracks{RemapFailure: append(tr(1), slices.Repeat(tr(nan), 12)...)}},
		{name: "health fail", tracks: Tracks{Status: map[string]Track{"MEM DCGM_FR_X": tr(0, 20, 20), "PCIE DCGM_FR_OK": tr(0, 0, 0)}}, unusable: true, reason: "MEM DCGM_FR_X"},
		{name: "health warn", tracks: Tracks{Status: map[string]Track{"MEM DCGM_FR_PENDING_ROW_REMAP": tr(10, 10, 10)}}},
		{name: "rows rise", tracks: Tracks{UncorrectableRows: tr(2, 2, 3)}, unusable: true, reason: "1 HBM rows"},
		{name: "rows steady", tracks: Tracks{UncorrectableRows: tr(5, 5, 5)}},
		{name: "rows reset to the same", tracks: Tracks{UncorrectableRows: tr(5, 5, 0, 0)}},
		{name: "two XIDs counted", tracks: Tracks{XIDWindow: 5 * time.Minute, XIDCount: map[int]Track{0: tr(0, nan, nan), 79: tr(nan, 1, 2)}}, unusable: true, xids: []int{79}, reason: "XIDs repeat"},
		{name: "two codes once each", tracks: Tracks{XIDWindow: 5 * time.Minute, XIDCount: map[int]Track{13: tr(1, 1, nan), 31: tr(nan, 1, 1)}}, unusable: true, xids: []int{13, 31}},
		{name: "one XID for its window", tracks: Tracks{XIDWindow: 5 * time.Minute, XIDCount: map[int]Track{0: tr(0, nan, nan, nan, nan, nan, 0), 13: tr(nan, 1, 1, 1, 1, 1, nan)}}, xids: []int{13}},
		{name: "kept up past its window", tracks: Tracks{XIDWindow: 5 * time.Minute, XIDCount: map[int]Track{48: tr(1, 1, 1, 1, 1, 1, 1, 1)}}, unusable: true, xids: []int{48}},
		{name: "count present: gauge ignored", tracks: Tracks{XIDWindow: 5 * time.Minute, XIDCount: map[int]Track{0: tr(0, 0, 0)}, LastXID: tr(48, 79, 79)}},
		{name: "gauge changes code", tracks: Tracks{LastXID: tr(0, 48, 79)}, unusable: true, xids: []int{48, 79}, reason: "changed"},
		{name: "gauge fatal persists", tracks: Tracks{LastXID: tr(0, 79, 79, 79, 79, 79)}, unusable: true, xids: []int{79}, reason: "no reset"},
		{name: "gauge fatal too recent", tracks: Tracks{LastXID: tr(0, 0, 0, 79, 79)}, xids: []int{79}},
		{name: "gauge non-fatal persists", tracks: Tracks{LastXID: tr(13, 13, 13, 13, 13, 13, 13)}, xids: []int{13}},
		{name: "gauge cleared by a reset", tracks: Tracks{LastXID: tr(79, 79, 79, 79, 79, 0)}, xids: []int{79}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Judge(tt.tracks, step, th)
			if v.Unusable != tt.unusable {
				t.Errorf("unusable %v, want %v (%+v)", v.Unusable, tt.unusable, v)
			}
			if tt.unusable && (v.Since < 0 || !strings.Contains(strings.Join(v.Reasons, "; "), tt.reason)) {
				t.Errorf("reasons %q since %d, want %q", v.Reasons, v.Since, tt.reason)
			}
			if tt.xids != nil && !slices.Equal(v.XIDs, tt.xids) {
				t.Errorf("XIDs %v, want %v", v.XIDs, tt.xids)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultThresholds().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		th   Thresholds
		want string
	}{
		{Thresholds{Lookback: 0, XIDRepeat: 2, XIDPersist: time.Minute}, "unusable_lookback"},
		{Thresholds{Lookback: time.Hour, XIDRepeat: 1, XIDPersist: time.Minute}, "unusable_xid_repeat"},
		{Thresholds{Lookback: time.Minute, XIDRepeat: 2, XIDPersist: time.Hour}, "unusable_xid_persist"},
	} {
		if err := tc.th.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error naming %s", tc.th, err, tc.want)
		}
	}
}
