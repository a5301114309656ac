package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// cpuTicks is a process's utime+stime in clock ticks (/proc/PID/stat).
type cpuTicks struct{ user, sys uint64 }

func (a cpuTicks) sub(b cpuTicks) cpuTicks { return cpuTicks{a.user - b.user, a.sys - b.sys} }
func (a cpuTicks) seconds(clkTck float64) float64 {
	return float64(a.user+a.sys) / clkTck
}

// procCPU reads utime and stime of pid ("self" for this process); zero if
// the process is gone.
func procCPU(pid string) cpuTicks {
	if pid == "" {
		return cpuTicks{}
	}
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return cpuTicks{}
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return cpuTicks{}
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): utime is field 14, stime field 15.
	if len(f) < 13 {
		return cpuTicks{}
	}
	u, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return cpuTicks{u, st}
}

// sysTicks is the machine's first /proc/stat line.
type sysTicks struct{ total, idle uint64 }

func systemCPU() sysTicks {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return sysTicks{}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return sysTicks{}
	}
	fields := strings.Fields(sc.Text())
	var t sysTicks
	for i, v := range fields[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		if i >= 8 { // guest and guest_nice are already inside user and nice
			break
		}
		t.total += n
		if i == 3 || i == 4 { // idle, iowait
			t.idle += n
		}
	}
	return t
}

// busy is the CPU seconds the whole machine spent busy between b and a.
func (a sysTicks) busy(b sysTicks, clkTck float64) float64 {
	return float64((a.total-a.idle)-(b.total-b.idle)) / clkTck
}

// procStatus returns a field of /proc/PID/status in kB (VmHWM, VmRSS).
func procStatus(pid, field string) int64 { return procField("/proc/"+pid+"/status", field) }

// procField returns the first number of a "Field: n kB" line of a /proc
// file, 0 when it is missing.
func procField(file, field string) int64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// sample reads every counter a run is measured by.
func (b *bench) sample(ctx context.Context, t target) sample {
	s := sample{
		at:     time.Now(),
		sluice: procCPU(b.sluicePID),
		broker: procCPU(b.brokerPID),
		self:   procCPU("self"),
		system: systemCPU(),
	}
	if t.Name == "sluice" && b.sluiceHTTP != "" {
		s.fwdByte = b.forwardedBytes(ctx)
	}
	return s
}

// forwardedBytes is sluice's own count of record-batch bytes accepted for
// the project on the Inbound listener.
func (b *bench) forwardedBytes(ctx context.Context) float64 {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", b.sluiceHTTP+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	want := fmt.Sprintf(`sluice_kafka_bytes_in_total{project="%s"}`, b.projectID)
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, want); ok {
			v, _ := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v
		}
	}
	return 0
}

// machine describes the host for the report.
type machine struct {
	Cores    int
	MemGiB   float64
	CPUModel string
	Kernel   string
	LoadAvg  string
}

func describeMachine() machine {
	m := machine{Cores: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "model name"); ok {
				m.CPUModel = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), ":"))
				break
			}
		}
	}
	m.MemGiB = float64(procMeminfo("MemTotal")) / (1 << 20)
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.LoadAvg = loadAvg()
	return m
}

func procMeminfo(field string) int64 { return procField("/proc/meminfo", field) }

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
