package query

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// TestForeground: Wait returns at once with no request in progress,
// when the last one in progress ends, at its deadline or when its context
// ends; ending a request twice counts once.
func TestForeground(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// run begins and ends requests while wait is blocked; it returns
		// the deadline given to Wait.
		run  func(f *Foreground, cancel context.CancelFunc) time.Duration
		want time.Duration
	}{
		{"idle", func(*Foreground, context.CancelFunc) time.Duration { return time.Hour }, 0},
		{"until the last request ends", func(f *Foreground, _ context.CancelFunc) time.Duration {
			end1, end2 := f.Begin(), f.Begin()
			go func() {
				time.Sleep(time.Second)
				end1()
				end1() // a second call does nothing
				time.Sleep(2 * time.Second)
				end2()
			}()
			return time.Hour
		}, 3 * time.Second},
		{"deadline", func(f *Foreground, _ context.CancelFunc) time.Duration {
			end := f.Begin()
			go func() {
				time.Sleep(time.Minute)
				end()
			}()
			return 5 * time.Second
		}, 5 * time.Second},
		{"deadline passed", func(f *Foreground, _ context.CancelFunc) time.Duration {
			end := f.Begin()
			go func() {
				time.Sleep(time.Minute)
				end()
			}()
			return -time.Second
		}, 0},
		{"context", func(f *Foreground, cancel context.CancelFunc) time.Duration {
			end := f.Begin()
			go func() {
				time.Sleep(2 * time.Second)
				cancel()
				time.Sleep(time.Minute)
				end()
			}()
			return time.Hour
		}, 2 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var f Foreground
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				deadline := time.Now().Add(c.run(&f, cancel))
				if got := f.Wait(ctx, deadline); got != c.want {
					t.Errorf("Wait = %v, want %v", got, c.want)
				}
				time.Sleep(2 * time.Minute) // the requests' goroutines end
			})
		})
	}
}

// TestForegroundAgain: a request begun after the last one ended blocks
// Wait again, until it ends.
func TestForegroundAgain(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var f Foreground
		f.Begin()() // begun and ended: idle again
		end := f.Begin()
		done := make(chan time.Duration)
		go func() { done <- f.Wait(t.Context(), time.Now().Add(time.Hour)) }()
		time.Sleep(time.Second)
		end()
		if got := <-done; got != time.Second {
			t.Errorf("Wait = %v, want 1s", got)
		}
	})
}
