// go-yamux-peer: a github.com/hashicorp/yamux driver (plaintext yamux over
// TCP) with the same CLI and stdout lines as the Rust yamux-peer.
// See interop/README.md ("yamux-peer / go-yamux-peer").
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
)

const (
	chunk = 64 * 1024
	fill  = 7
)

var (
	outMu sync.Mutex
)

// emit prints one machine-readable stdout line, unbuffered.
func emit(format string, a ...any) {
	outMu.Lock()
	defer outMu.Unlock()
	line := fmt.Sprintf(format, a...)
	line = strings.NewReplacer("\n", " ", "\r", " ").Replace(line)
	os.Stdout.WriteString(line + "\n")
}

func patternByte(i uint64) byte { return byte((i*31 + fill) & 0xff) }

func fillPattern(b []byte, off uint64) {
	for k := range b {
		b[k] = patternByte(off + uint64(k))
	}
}

// yamuxConfig mirrors tokio-yamux 0.3.20's defaults (spec §8.7) so the Go
// peer behaves like a tentacle peer would expect: 256 KiB max window,
// backlog 256, keepalive every 30 s, 10 s write timeout.
func yamuxConfig(window uint32) *yamux.Config {
	cfg := yamux.DefaultConfig()
	cfg.AcceptBacklog = 256
	cfg.EnableKeepAlive = true
	cfg.KeepAliveInterval = 30 * time.Second
	cfg.ConnectionWriteTimeout = 10 * time.Second
	cfg.MaxStreamWindowSize = window
	cfg.LogOutput = os.Stderr
	return cfg
}

func main() {
	log.SetOutput(os.Stderr)
	exitOnStdinEOFIfAsked()
	if len(os.Args) < 2 || (os.Args[1] != "server" && os.Args[1] != "client") {
		fmt.Fprintln(os.Stderr, "usage: go-yamux-peer server|client [options] (see interop/README.md)")
		os.Exit(2)
	}
	mode := os.Args[1]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	port := fs.Int("port", 0, "TCP port on 127.0.0.1")
	streams := fs.Int("streams", 1, "client: streams opened at once")
	bytes := fs.Uint64("bytes", 0, "client: bytes per stream")
	cmode := fs.String("mode", "echo", "client: echo|reset|rset")
	window := fs.Uint("window", 256*1024, "MaxStreamWindowSize")
	lateFin := fs.Bool("late-fin", false, "client: half-close only after the whole echo arrived")
	closeOnGoAway := fs.Bool("close-on-goaway", false, "close the session when the peer sends GoAway")
	timeoutSecs := fs.Int("timeout-secs", 120, "client: overall deadline")
	_ = fs.Parse(os.Args[2:])
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "unexpected arguments: %v\n", fs.Args())
		os.Exit(2)
	}
	cfg := yamuxConfig(uint32(*window))
	if err := yamux.VerifyConfig(cfg); err != nil {
		fmt.Fprintf(os.Stderr, "bad config: %v\n", err)
		os.Exit(2)
	}
	if mode == "server" {
		os.Exit(server(*port, cfg, *closeOnGoAway))
	}
	if *port == 0 {
		fmt.Fprintln(os.Stderr, "client needs --port")
		os.Exit(2)
	}
	os.Exit(client(*port, cfg, *cmode, *streams, *bytes, *lateFin, *closeOnGoAway, time.Duration(*timeoutSecs)*time.Second))
}

// exitOnStdinEOFIfAsked: with TENTACLE_TS_EXIT_ON_STDIN_EOF=1 (set by
// interop/lib), exit when stdin reaches EOF, i.e. when the test process that
// owns the pipe is gone.
func exitOnStdinEOFIfAsked() {
	if os.Getenv("TENTACLE_TS_EXIT_ON_STDIN_EOF") != "1" {
		return
	}
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
}

func server(port int, cfg *yamux.Config, closeOnGoAway bool) int {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		fmt.Fprintf(os.Stderr, "listen: %v\n", err)
		return 2
	}
	emit("LISTENING %d", ln.Addr().(*net.TCPAddr).Port)
	for {
		c, err := ln.Accept()
		if err != nil {
			// The accept loop never stops because of one connection.
			log.Printf("accept: %v", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go serveSession(c, cfg, closeOnGoAway)
	}
}

func serveSession(c net.Conn, cfg *yamux.Config, closeOnGoAway bool) {
	fc := newFrameConn(c)
	var sess *yamux.Session
	ready := make(chan struct{})
	fc.onGoAway = goAwayHandler(&sess, ready, closeOnGoAway)
	sess, err := yamux.Server(fc, cfg)
	close(ready)
	if err != nil {
		log.Printf("yamux server: %v", err)
		c.Close()
		return
	}
	for {
		st, err := sess.AcceptStream()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, yamux.ErrSessionShutdown) {
				emit("SESSION_END ok")
			} else {
				emit("SESSION_END error %v", err)
			}
			sess.Close()
			return
		}
		go serveStream(st, fc)
	}
}

// goAwayHandler reports a received GoAway and, with --close-on-goaway, ends
// the session (closing the TCP connection) once it exists.
func goAwayHandler(sess **yamux.Session, ready <-chan struct{}, closeIt bool) func(uint32) {
	return func(code uint32) {
		emit("GOAWAY_RECEIVED %d", code)
		if closeIt {
			go func() {
				<-ready
				if *sess != nil {
					(*sess).Close()
				}
			}()
		}
	}
}

func serveStream(st *yamux.Stream, fc *frameConn) {
	id := st.StreamID()
	cmd := make([]byte, 4)
	if _, err := io.ReadFull(st, cmd); err != nil {
		if errors.Is(err, yamux.ErrConnectionReset) {
			// hashicorp drops data buffered before a RST: Read fails at once.
			emit("STREAM_RESET_SEEN %d 0", id)
			return
		}
		emit("STREAM_BAD %d %v", id, err)
		st.Close()
		return
	}
	switch string(cmd) {
	case "ECHO":
		buf := make([]byte, chunk)
		var total uint64
		for {
			n, err := st.Read(buf)
			if n > 0 {
				if _, werr := st.Write(buf[:n]); werr != nil {
					emit("STREAM_ERR %d %d %v", id, total, werr)
					return
				}
				total += uint64(n)
			}
			if err == io.EOF {
				break
			}
			if errors.Is(err, yamux.ErrConnectionReset) {
				emit("STREAM_RESET_SEEN %d %d", id, total)
				return
			}
			if err != nil {
				emit("STREAM_ERR %d %d %v", id, total, err)
				return
			}
		}
		st.Close() // FIN
		emit("STREAM_DONE %d %d", id, total)
	case "RSET":
		// hashicorp/yamux v0.1.2 has no API to reset a stream; the driver
		// writes the RST frame itself (WindowUpdate, flags RST, delta 0, spec
		// §8.3) at a frame boundary and abandons the stream.
		if err := fc.injectRST(id); err != nil {
			emit("STREAM_ERR %d 0 %v", id, err)
			return
		}
		emit("STREAM_RESET_SENT %d", id)
	case "SINK":
		buf := make([]byte, chunk)
		var total uint64
		for {
			n, err := st.Read(buf)
			total += uint64(n)
			if err == io.EOF {
				st.Close()
				emit("STREAM_EOF %d %d", id, total)
				return
			}
			if err != nil {
				log.Printf("stream %d: sink read: %v", id, err)
				emit("STREAM_RESET_SEEN %d %d", id, total)
				return
			}
		}
	default:
		emit("STREAM_BAD %d unknown-command", id)
		st.Close()
	}
}

func client(port int, cfg *yamux.Config, mode string, streams int, n uint64, lateFin, closeOnGoAway bool, limit time.Duration) int {
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		emit("FAIL connect: %v", err)
		return 1
	}
	fc := newFrameConn(c)
	var sess *yamux.Session
	ready := make(chan struct{})
	fc.onGoAway = goAwayHandler(&sess, ready, closeOnGoAway)
	sess, err = yamux.Client(fc, cfg)
	close(ready)
	if err != nil {
		emit("FAIL yamux: %v", err)
		return 1
	}
	// Streams the server opens towards us are refused by closing them.
	go func() {
		for {
			st, err := sess.AcceptStream()
			if err != nil {
				return
			}
			st.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	result := make(chan error, 1)
	go func() { result <- runClient(sess, fc, mode, streams, n, lateFin) }()
	code := 0
	select {
	case err := <-result:
		if err != nil {
			emit("FAIL %v", err)
			code = 1
		} else if mode == "echo" {
			emit("OK %d %d", streams, n)
		} else {
			emit("OK %s", mode)
		}
	case <-ctx.Done():
		emit("FAIL timeout after %ds", int(limit.Seconds()))
		code = 1
	}
	// hashicorp's Close sends no GoAway: it closes the TCP connection.
	sess.Close()
	return code
}

func runClient(sess *yamux.Session, fc *frameConn, mode string, streams int, n uint64, lateFin bool) error {
	switch mode {
	case "echo":
		opened := make([]*yamux.Stream, 0, streams)
		for i := 0; i < streams; i++ {
			st, err := sess.OpenStream()
			if err != nil {
				return fmt.Errorf("open: %w", err)
			}
			opened = append(opened, st)
		}
		errs := make(chan error, streams)
		for _, st := range opened {
			go func(st *yamux.Stream) { errs <- echoStream(st, n, lateFin) }(st)
		}
		for range opened {
			if err := <-errs; err != nil {
				return err
			}
		}
		return nil
	case "reset":
		s1, err := sess.OpenStream()
		if err != nil {
			return fmt.Errorf("open: %w", err)
		}
		first := make([]byte, 4+1000)
		copy(first, "SINK")
		fillPattern(first[4:], 0)
		// Write returns once the frame was handed to the connection, so the
		// RST written next follows the data on the wire.
		if _, err := s1.Write(first); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		if err := fc.injectRST(s1.StreamID()); err != nil {
			return fmt.Errorf("rst: %w", err)
		}
		s2, err := sess.OpenStream()
		if err != nil {
			return fmt.Errorf("open: %w", err)
		}
		if n == 0 {
			n = 4096
		}
		return echoStream(s2, n, lateFin)
	case "rset":
		st, err := sess.OpenStream()
		if err != nil {
			return fmt.Errorf("open: %w", err)
		}
		if _, err := st.Write([]byte("RSET")); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		buf := make([]byte, 16)
		_, err = st.Read(buf)
		if errors.Is(err, yamux.ErrConnectionReset) {
			return nil
		}
		return fmt.Errorf("expected a reset, got %v", err)
	default:
		return fmt.Errorf("unknown --mode %s", mode)
	}
}

// echoStream writes ECHO + n pattern bytes, half-closes (FIN) and reads the
// echo to EOF, verifying it. With lateFin the FIN waits for the whole echo.
func echoStream(st *yamux.Stream, n uint64, lateFin bool) error {
	id := st.StreamID()
	werr := make(chan error, 1)
	go func() {
		if _, err := st.Write([]byte("ECHO")); err != nil {
			werr <- fmt.Errorf("stream %d: write: %w", id, err)
			return
		}
		buf := make([]byte, chunk)
		var off uint64
		for off < n {
			k := uint64(chunk)
			if n-off < k {
				k = n - off
			}
			fillPattern(buf[:k], off)
			if _, err := st.Write(buf[:k]); err != nil {
				werr <- fmt.Errorf("stream %d: write at %d: %w", id, off, err)
				return
			}
			off += k
		}
		if !lateFin {
			if err := st.Close(); err != nil {
				werr <- fmt.Errorf("stream %d: half-close: %w", id, err)
				return
			}
		}
		werr <- nil
	}()
	buf := make([]byte, chunk)
	var got uint64
	for got < n || !lateFin {
		want := uint64(chunk)
		if got < n && n-got < want {
			want = n - got
		}
		k, err := st.Read(buf[:want])
		for i := 0; i < k; i++ {
			if got+uint64(i) >= n {
				return fmt.Errorf("stream %d: echo longer than %d bytes", id, n)
			}
			if buf[i] != patternByte(got+uint64(i)) {
				return fmt.Errorf("stream %d: echo byte %d differs", id, got+uint64(i))
			}
		}
		got += uint64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("stream %d: read at %d: %w", id, got, err)
		}
	}
	if got != n {
		return fmt.Errorf("stream %d: eof after %d of %d echoed bytes", id, got, n)
	}
	if err := <-werr; err != nil {
		return err
	}
	if lateFin {
		if err := st.Close(); err != nil {
			return fmt.Errorf("stream %d: half-close: %w", id, err)
		}
		one := make([]byte, 1)
		if k, err := st.Read(one); k != 0 || err != io.EOF {
			return fmt.Errorf("stream %d: expected EOF after the echo, got %d bytes, %v", id, k, err)
		}
	}
	return nil
}

// frameConn wraps the TCP connection under a hashicorp session:
//   - outbound: hashicorp's sendLoop writes each frame as one Write of the
//     12-byte header and, for Data frames, one Write of the whole body; we
//     track that so injectRST can put a frame between two frames, never
//     inside one;
//   - inbound: a small header tracker reports GoAway frames (hashicorp
//     itself only refuses new streams after one, spec §8.9 item 6).
type frameConn struct {
	net.Conn
	wmu         sync.Mutex
	pendingBody uint64
	queued      [][]byte

	hdr      [12]byte
	hdrLen   int
	skipBody uint64
	onGoAway func(code uint32)
}

func newFrameConn(c net.Conn) *frameConn { return &frameConn{Conn: c} }

func (c *frameConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	n, err := c.Conn.Write(p)
	if err != nil {
		return n, err
	}
	if c.pendingBody == 0 {
		if len(p) == 12 && p[1] == 0 {
			c.pendingBody = uint64(binary.BigEndian.Uint32(p[8:12]))
		}
	} else if uint64(len(p)) >= c.pendingBody {
		c.pendingBody = 0
	} else {
		c.pendingBody -= uint64(len(p))
	}
	if c.pendingBody == 0 {
		for _, f := range c.queued {
			if _, err := c.Conn.Write(f); err != nil {
				return n, err
			}
		}
		c.queued = nil
	}
	return n, nil
}

func (c *frameConn) injectRST(id uint32) error {
	f := make([]byte, 12)
	f[0] = 0 // version
	f[1] = 1 // WindowUpdate
	binary.BigEndian.PutUint16(f[2:4], 0x8)
	binary.BigEndian.PutUint32(f[4:8], id)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.pendingBody != 0 {
		c.queued = append(c.queued, f)
		return nil
	}
	_, err := c.Conn.Write(f)
	return err
}

func (c *frameConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	b := p[:n]
	for len(b) > 0 {
		if c.skipBody > 0 {
			k := uint64(len(b))
			if k > c.skipBody {
				k = c.skipBody
			}
			c.skipBody -= k
			b = b[k:]
			continue
		}
		k := copy(c.hdr[c.hdrLen:], b)
		c.hdrLen += k
		b = b[k:]
		if c.hdrLen == 12 {
			c.hdrLen = 0
			length := binary.BigEndian.Uint32(c.hdr[8:12])
			switch c.hdr[1] {
			case 0:
				c.skipBody = uint64(length)
			case 3:
				if c.onGoAway != nil {
					c.onGoAway(length)
				}
			}
		}
	}
	return n, err
}
