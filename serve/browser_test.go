package serve

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// findChromium returns the headless browser to drive, skipping the test when there is none
// (and failing under CI=true, whose setup installs Debian's chromium).
func findChromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on PATH: CI must install it (apt-get install -y chromium)")
	}
	t.Skip("no chromium on PATH (apt-get install -y chromium)")
	return ""
}

// The page loads without console errors, streams a generation with coloured tokens, draws the
// attention head and model views and a run's curves; screenshots of each are not blank.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	browser := findChromium(t)
	runs := t.TempDir()
	os.MkdirAll(filepath.Join(runs, "demo"), 0o755)
	var log strings.Builder
	for i := 1; i <= 50; i++ {
		fmt.Fprintf(&log, `{"step":%d,"loss":%g,"lr":%g}`+"\n", i*10, 4.5/float64(i)+1, 1e-3*float64(min(i, 10))/10)
	}
	os.WriteFile(filepath.Join(runs, "demo", "metrics.jsonl"), []byte(log.String()), 0o644)
	_, ts := newTestServer(t, Options{RunsDir: runs})

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(browser),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	defer cancelT()

	var mu sync.Mutex
	var consoleErrors []string
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				consoleErrors = append(consoleErrors, string(e.Type)+": "+strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			consoleErrors = append(consoleErrors, fmt.Sprintf("exception: %s at %s:%d", e.ExceptionDetails.Text, e.ExceptionDetails.URL, e.ExceptionDetails.LineNumber))
		}
	}); err != nil {
		t.Fatal(err)
	}
	fail := func(err error) {
		t.Helper()
		if err != nil {
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("browser: %v (console: %q)", err, consoleErrors)
		}
	}
	do := func(steps ...chromedp.Action[chromedp.Void]) { t.Helper(); fail(chromedp.Do(ctx, steps...)) }
	wait := func(expr string) chromedp.Action[chromedp.Void] { return chromedp.Poll[chromedp.Void](expr) }
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('`+sel+`').length`))
		fail(err)
		return n
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		fail(err)
		return s
	}
	shot := func(sel string) []byte {
		t.Helper()
		b, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(sel)))
		fail(err)
		return b
	}

	do(chromedp.Navigate(ts.URL+"/"),
		wait(`document.querySelectorAll('#pg-model option').length === 2`),
		chromedp.SetValue(chromedp.CSS("#pg-model"), "tiny-gpt"),
		chromedp.SetValue(chromedp.CSS("#pg-max"), "24"),
		chromedp.SetValue(chromedp.CSS("#pg-seed"), "7"),
		chromedp.Click(chromedp.CSS("#pg-go")),
		wait(`document.getElementById('pg-status').textContent.includes('tokens/s')`))
	tokens, status := count("#pg-out .tok"), text("#pg-status")
	playground := shot("#pg-out")

	do(chromedp.Click(chromedp.CSS(`button[data-tab="attention"]`)),
		wait(`document.querySelectorAll('#at-model option').length === 3`),
		chromedp.SetValue(chromedp.CSS("#at-model"), "tiny-gpt"),
		chromedp.SetValue(chromedp.CSS("#at-text"), "hello there"),
		chromedp.Click(chromedp.CSS("#at-go")),
		wait(`document.querySelectorAll('#head-view line').length > 0`))
	lines := count("#head-view line")
	headView := shot("#at-canvas")
	do(chromedp.SetValue(chromedp.CSS("#at-view"), "model"))
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('at-view').dispatchEvent(new Event('change'))`))
	fail(err)
	do(wait(`document.querySelectorAll('#model-view canvas').length > 0`))
	thumbs := count("#model-view canvas")
	modelView := shot("#at-canvas")

	do(chromedp.Click(chromedp.CSS(`button[data-tab="runs"]`)),
		wait(`document.getElementById('rn-status').textContent.includes('50 records')`))
	runStatus := text("#rn-status")
	curves := shot("#rn-loss")

	if tokens != 24 {
		t.Errorf("%d coloured tokens, want 24 (status %q)", tokens, status)
	}
	if lines == 0 || thumbs != 2*4 {
		t.Errorf("head view %d lines, model view %d thumbnails (want 2 layers × 4 heads)", lines, thumbs)
	}
	if !strings.Contains(runStatus, "step 500") {
		t.Errorf("runs status %q", runStatus)
	}
	for name, shot := range map[string][]byte{"playground": playground, "head view": headView, "model view": modelView, "curves": curves} {
		if n := colours(t, shot); n < 8 {
			t.Errorf("%s screenshot has %d colours: blank", name, n)
		}
		if dir := os.Getenv("QKV_SCREENSHOTS"); dir != "" {
			os.WriteFile(filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".png"), shot, 0o644)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(consoleErrors) > 0 {
		t.Errorf("console errors: %q", consoleErrors)
	}
}

// colours counts the distinct colours of a PNG (a blank area has one or two).
func colours(t *testing.T, b []byte) int {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	seen := map[[4]uint32]bool{}
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y += 2 {
		for x := bounds.Min.X; x < bounds.Max.X; x += 2 {
			r, g, b, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, b, a}] = true
		}
	}
	return len(seen)
}
