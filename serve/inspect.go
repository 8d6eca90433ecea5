package serve

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/checkpoint"
	"github.com/qkvdev/qkv/internal/fileutil"
	"github.com/qkvdev/qkv/model/bert"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tokenizer"
	"github.com/qkvdev/qkv/translate"
)

// ---- /v1/embeddings ----

func (s *Server) embeddings(w http.ResponseWriter, r *http.Request) error {
	var req embeddingRequest
	m, err := s.decodeModel(r, &req)
	if err != nil {
		return err
	}
	if m.embedErr != nil {
		return invalid("model", "the model %s cannot embed text: %v", m.Name, m.embedErr)
	}
	in, err := parseTextOrTokens(req.Input, "input")
	if err != nil {
		return err
	}
	if in.len() > 2048 {
		return invalid("input", "input has %d items; at most 2048 are allowed", in.len())
	}
	switch req.EncodingFormat {
	case "", "float", "base64":
	default:
		return invalid("encoding_format", "encoding_format %q: want float or base64", req.EncodingFormat)
	}
	if req.Dimensions != nil && *req.Dimensions != m.embedder.Dim() {
		return invalid("dimensions", "dimensions = %d: this model's embeddings have %d", *req.Dimensions, m.embedder.Dim())
	}
	seqs := in.tokens
	for _, t := range in.texts {
		if t == "" {
			return invalid("input", "input must not contain empty strings")
		}
		if n := m.countTokens(t); n > m.contextLength() { // Tokenize would cut it silently
			return invalid("input", "input %d has %d tokens; this model reads at most %d", len(seqs), n, m.contextLength())
		}
		ids, err := m.embedder.Tokenize(t)
		if err != nil {
			return invalid("input", "%v", err)
		}
		seqs = append(seqs, ids)
	}
	limit, V := m.contextLength(), m.tok.VocabSize()
	tokens := 0
	for i, ids := range seqs {
		if len(ids) > limit {
			return invalid("input", "input %d has %d tokens; this model reads at most %d", i, len(ids), limit)
		}
		for _, id := range ids {
			if id < 0 || id >= V {
				return invalid("input", "input %d: token %d is not a token id of this model (0..%d)", i, id, V-1)
			}
		}
		tokens += len(ids)
	}
	m.embedMu.Lock()
	vecs, err := m.embedder.EmbedIDs(r.Context(), seqs)
	m.embedMu.Unlock()
	if err != nil {
		return err
	}
	resp := embeddingResponse{Object: "list", Model: m.Name}
	resp.Usage.PromptTokens, resp.Usage.TotalTokens = tokens, tokens
	for i, v := range vecs {
		d := embeddingData{Object: "embedding", Index: i, Embedding: v}
		if req.EncodingFormat == "base64" {
			b := make([]byte, 4*len(v))
			for k, f := range v {
				binary.LittleEndian.PutUint32(b[4*k:], math.Float32bits(f))
			}
			d.Embedding = base64.StdEncoding.EncodeToString(b)
		}
		resp.Data = append(resp.Data, d)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// ---- /v1/tokenize and /v1/attention (qkv's own) ----

type inspectRequest struct {
	Model  string `json:"model"`
	Input  string `json:"input"`
	Target string `json:"target"` // encoder–decoder models: the translation to look at (default: the model's own)
	Kind   string `json:"kind"`   // encoder–decoder models: cross (default), self or encoder
}

// attentionResponse holds every layer's attention weights for one text, as bertviz's head
// and model views read them: attention[layer][head][query][key]. For self-attention the
// queries and keys are tokens; for an encoder–decoder's cross attention (kind "cross") the
// queries are tokens_tgt (what the decoder writes) and the keys tokens_src.
type attentionResponse struct {
	Model     string          `json:"model"`
	Type      string          `json:"model_type"`
	Kind      string          `json:"kind"`
	Tokens    []string        `json:"tokens,omitempty"`
	TokensSrc []string        `json:"tokens_src,omitempty"`
	TokensTgt []string        `json:"tokens_tgt,omitempty"`
	Layers    int             `json:"layers"`
	Heads     int             `json:"heads"`
	Attention [][][][]float32 `json:"attention"`
}

func (s *Server) tokenize(w http.ResponseWriter, r *http.Request) error {
	var req inspectRequest
	m, err := s.decodeModel(r, &req)
	if err != nil {
		return err
	}
	ids, err := m.inspectIDs(req.Input, 1<<20)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"model": m.Name, "tokens": ids, "text": m.tokenStrings(ids)})
	return nil
}

// inspectIDs are the token ids of text as the model reads it ([CLS] … [SEP] for BERT).
func (m *Model) inspectIDs(text string, limit int) ([]int, error) {
	if text == "" {
		return nil, invalid("input", "input is required")
	}
	var ids []int
	if wp, ok := m.tok.(*tokenizer.WordPiece); ok && m.bert != nil {
		ids = append(append([]int{wp.ClsID()}, wp.Encode(text)...), wp.SepID())
	} else {
		ids = m.tok.Encode(text)
	}
	if len(ids) == 0 {
		return nil, invalid("input", "the input has no tokens")
	}
	limit = min(limit, m.contextLength())
	if len(ids) > limit {
		return nil, invalid("input", "the input has %d tokens; at most %d are shown", len(ids), limit)
	}
	return ids, nil
}

// countTokens is how many tokens the model reads for text, special tokens included.
func (m *Model) countTokens(text string) int {
	n := len(m.tok.Encode(text))
	if _, ok := m.tok.(*tokenizer.WordPiece); ok && m.bert != nil {
		n += 2 // [CLS] and [SEP]
	}
	return n
}

func (m *Model) tokenStrings(ids []int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i], _ = m.tokenText(id)
	}
	return out
}

func (s *Server) attention(w http.ResponseWriter, r *http.Request) error {
	var req inspectRequest
	m, err := s.decodeModel(r, &req)
	if err != nil {
		return err
	}
	if m.tr != nil {
		return m.crossAttention(w, r, req, s.o.MaxAttention)
	}
	if m.gpt == nil && m.bert == nil {
		return invalid("model", "attention views cover GPT, BERT and encoder–decoder models; %s is %s", m.Name, m.m.Type())
	}
	ids, err := m.inspectIDs(req.Input, s.o.MaxAttention)
	if err != nil {
		return err
	}
	var maps []*tensor.Tensor // (L) of (nh, T, T)
	if m.gpt != nil {
		if maps, err = m.gpt.AttentionMaps(ids); err != nil {
			return invalid("input", "%v", err)
		}
	} else {
		maps, err = bertAttention(m.bert, ids)
		if err != nil {
			return invalid("input", "%v", err)
		}
	}
	resp := attentionResponse{Model: m.Name, Type: m.m.Type(), Kind: "self", Tokens: m.tokenStrings(ids), Layers: len(maps)}
	for _, t := range maps {
		nh, T := t.Dim(0), t.Dim(1)
		resp.Heads = nh
		layer := make([][][]float32, nh)
		for h := range nh {
			layer[h] = make([][]float32, T)
			for q := range T {
				row := make([]float32, T)
				for k := range T {
					row[k] = round4(t.At(h, q, k))
				}
				layer[h][q] = row
			}
		}
		resp.Attention = append(resp.Attention, layer)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// crossAttention answers /v1/attention for an encoder–decoder model (translate.Attention):
// the decoder's attention to the source while it writes the target (teacher-forced), or the
// decoder's or encoder's self-attention.
func (m *Model) crossAttention(w http.ResponseWriter, r *http.Request, req inspectRequest, limit int) error {
	if req.Input == "" {
		return invalid("input", "input is required: the source sentence")
	}
	kind := req.Kind
	switch kind {
	case "":
		kind = translate.Cross
	case translate.Cross, translate.Self, translate.Encoder:
	default:
		return invalid("kind", "kind %q: want cross, self or encoder", kind)
	}
	if n := len(m.tok.Encode(req.Input)); n > limit {
		return invalid("input", "the input has %d tokens; at most %d are shown", n, limit)
	}
	m.trMu.Lock()
	a, err := m.tr.Attention(r.Context(), req.Input, req.Target, kind, translate.Options{Beams: 1, LengthPenalty: 1})
	m.trMu.Unlock()
	if err != nil {
		return invalid("input", "%v", err)
	}
	resp := attentionResponse{Model: m.Name, Type: m.m.Type(), Kind: a.Kind, TokensSrc: a.TokensSrc, TokensTgt: a.TokensTgt, Layers: len(a.Layers)}
	for _, l := range a.Layers {
		resp.Heads = len(l.Heads)
		for _, h := range l.Heads {
			for _, row := range h {
				for k := range row {
					row[k] = round4(row[k])
				}
			}
		}
		resp.Attention = append(resp.Attention, l.Heads)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func round4(v float32) float32 { return float32(math.Round(float64(v)*1e4) / 1e4) }

// bertAttention runs BERT over one sequence and returns each layer's weights (nh, T, T).
func bertAttention(m *bert.Model, ids []int) ([]*tensor.Tensor, error) {
	b := &bert.Batch{B: 1, T: len(ids), InputIDs: ids}
	if err := m.Check(b); err != nil {
		return nil, err
	}
	g := autograd.NewGraph()
	g.SetGrad(false)
	weights := make([]*tensor.Tensor, m.Config.NumHiddenLayers)
	m.Encode(g, b, nil, weights)
	out := make([]*tensor.Tensor, len(weights))
	for l, w := range weights {
		out[l] = w.Contiguous().Reshape(w.Dim(1), len(ids), len(ids)).Clone()
	}
	return out, nil
}

// ---- /v1/runs: training curves ----

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) error {
	runs := []map[string]any{}
	if s.o.RunsDir != "" {
		entries, err := os.ReadDir(s.o.RunsDir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			st, err := os.Stat(filepath.Join(s.o.RunsDir, e.Name(), checkpoint.MetricsFile))
			if err == nil && st.Mode().IsRegular() {
				runs = append(runs, map[string]any{"name": e.Name(), "modified": st.ModTime().Unix(), "size": st.Size()})
			}
		}
		sort.Slice(runs, func(i, j int) bool { return runs[i]["modified"].(int64) > runs[j]["modified"].(int64) })
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": runs})
	return nil
}

// maxMetricsChunk bounds one read of a metrics log; the page asks again from the returned
// offset until it has everything, then polls for what the trainer appends.
const maxMetricsChunk = 4 << 20

// runMetrics returns the records of a run's metrics.jsonl from byte offset on (complete lines
// only) and the offset to ask from next time, so a page can follow a run while it trains.
func (s *Server) runMetrics(w http.ResponseWriter, r *http.Request) error {
	if s.o.RunsDir == "" {
		return notFound("run", "run_not_found", "this server shows no runs (start it with --runs DIR)")
	}
	name := r.PathValue("run")
	if name == "" || name == "." || name == ".." || filepath.Base(name) != name {
		return invalid("run", "run %q is not a run name", name)
	}
	offset := int64(0)
	if o := r.URL.Query().Get("offset"); o != "" {
		v, err := strconv.ParseInt(o, 10, 64)
		if err != nil || v < 0 {
			return invalid("offset", "offset %q must be a byte offset (a non-negative integer)", o)
		}
		offset = v
	}
	path := filepath.Join(s.o.RunsDir, name, checkpoint.MetricsFile)
	f, err := fileutil.Open(path) // a FIFO or device is refused without blocking
	if errors.Is(err, fs.ErrNotExist) {
		return notFound("run", "run_not_found", "run %q has no %s", name, checkpoint.MetricsFile)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return invalid("run", "run %q: %s is not a regular file", name, checkpoint.MetricsFile)
	}
	if offset > st.Size() { // the file was rewritten (a resumed run trims it): start over
		offset = 0
	}
	buf, err := io.ReadAll(io.LimitReader(io.NewSectionReader(f, offset, st.Size()-offset), maxMetricsChunk))
	if err != nil {
		return err
	}
	end := bytes.LastIndexByte(buf, '\n') + 1 // complete lines only: the trainer may be mid-write
	records := []json.RawMessage{}
	sc := bufio.NewScanner(bytes.NewReader(buf[:end]))
	sc.Buffer(nil, maxMetricsChunk)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) > 0 && line[0] == '{' && json.Valid(line) {
			records = append(records, json.RawMessage(bytes.Clone(line)))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"run": name, "records": records, "offset": offset + int64(end), "size": st.Size()})
	return nil
}
