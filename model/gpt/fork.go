package gpt

// CopyFrom makes gen continue exactly where src stands: the same sequence, key/value caches
// and last logits. Sampling several continuations of one prompt then costs one prefill: Start
// a generator on the prompt once, and CopyFrom it before each sample. Both generators must
// belong to the same model.
func (gen *Generator) CopyFrom(src *Generator) {
	if gen.m != src.m {
		panic("gpt: CopyFrom between generators of different models")
	}
	gen.seq = append(gen.seq[:0], src.seq...)
	gen.logits = append(gen.logits[:0], src.logits...)
	for i, c := range src.caches {
		d := gen.caches[i]
		copy(d.K.Data(), c.K.Data())
		copy(d.V.Data(), c.V.Data())
		d.Len = c.Len
	}
}

// Logits returns the logits for the token after the sequence so far (valid until the next
// Start, Next or CopyFrom).
func (gen *Generator) Logits() []float32 { return gen.logits }
