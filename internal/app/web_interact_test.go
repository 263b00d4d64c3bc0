package app

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// webInteractions drives the dashboard in headless Chromium over the
// DevTools protocol, as a user would: the theme button switches dark and
// light and the choice survives a reload; choosing a range in the picker
// navigates to a URL that keeps it (and the page's other state); a
// malformed query on the Query page shows the engine's error and the page
// still answers the next query. No page throws or logs an error.
// (TestWebBrowser runs it.)
func webInteractions(t *testing.T, chromium string, srv *httptest.Server) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true), chromedp.WindowSize(1400, 1000))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	ctx, cancelTab := chromedp.NewContext(ctx)
	defer cancelTab()

	// Every console error or warning and uncaught exception, from before
	// the first navigation on.
	var (
		mu       sync.Mutex
		problems []string
	)
	if err := chromedp.Listen(ctx, func(ev any) {
		var p string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				p = "console." + string(ev.Type)
				for _, a := range ev.Args {
					p += " " + string(a.Value)
				}
			}
		case *runtime.EventExceptionThrown:
			p = (&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error()
		}
		if p != "" {
			mu.Lock()
			problems = append(problems, p)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	theme := func() string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.AttributeValue("html", "data-theme"))
		if err != nil {
			t.Fatalf("read data-theme: %v", err)
		}
		return v.Value
	}
	// navigateBy runs an action that makes the page navigate and waits for
	// the new page's load event.
	navigateBy := func(what string, a chromedp.Action[chromedp.Void]) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, a)); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// Theme: a click switches, a second click switches back, a reload keeps
	// the last choice (localStorage).
	do("open /serving", chromedp.Navigate(srv.URL+"/serving"), chromedp.WaitVisible(chromedp.ID("theme")))
	first := theme()
	do("click theme", chromedp.Click(chromedp.ID("theme")))
	second := theme()
	if first == second || (second != "dark" && second != "light") {
		t.Fatalf("theme button: data-theme %q before the click, %q after", first, second)
	}
	navigateBy("reload", chromedp.Reload())
	if got := theme(); got != second {
		t.Errorf("theme after reload = %q, want the chosen %q", got, second)
	}
	do("click theme again", chromedp.Click(chromedp.ID("theme")))
	if got := theme(); got != first {
		t.Errorf("theme after the second click = %q, want %q", got, first)
	}

	// Picker: choosing a range submits the form; the new URL carries it
	// and the model chosen before, and drops the empty fields.
	model := "meta-llama/Llama-3.1-8B-Instruct"
	do("open /gpus", chromedp.Navigate(srv.URL+"/gpus?"+url.Values{"model": {model}}.Encode()), chromedp.WaitVisible(chromedp.ID("picker")))
	navigateBy("choose range 3h", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(function () {
			var s = document.querySelector('#picker select[name="range"]');
			s.value = "3h";
			s.dispatchEvent(new Event("change"));
			return true;
		})()`))
		return err
	}))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	if q := u.Query(); u.Path != "/gpus" || q.Get("range") != "3h" || q.Get("model") != model || q.Has("pod") {
		t.Errorf("after choosing 3h the page is %s, want /gpus with range=3h, model=%s and no empty pod", loc, model)
	}
	selected, err := chromedp.Run(ctx, chromedp.Value(`#picker select[name="range"]`))
	if err != nil || selected != "3h" {
		t.Errorf("range picker after navigation = %q (%v), want 3h", selected, err)
	}

	// Query page: a malformed query shows the engine's error next to the
	// query; the form then runs a good query.
	do("open a bad query", chromedp.Navigate(srv.URL+"/query?q=rate%28"), chromedp.WaitVisible(`[data-error]`))
	msg, err := chromedp.Run(ctx, chromedp.Text(`[data-error]`))
	if err != nil || !strings.Contains(msg, "parse error") {
		t.Errorf("bad query error text = %q (%v), want the engine's parse error", msg, err)
	}
	do("type a good query", chromedp.SetValue(`textarea[name="q"]`, "servescope:gpu_busy_ratio:avg"))
	navigateBy("submit the query", chromedp.Submit(`textarea[name="q"]`))
	state, err := chromedp.Run(ctx, chromedp.AttributeValue(`section.panel`, "data-state"))
	if err != nil || state.Value != "ok" {
		t.Errorf("good query after a bad one: panel state %q (%v), want ok", state.Value, err)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("dashboard: %s", p)
	}
}
