package tokenizer

import (
	"path/filepath"
)

// The loaders of the formats in this package, tried by Load after qkv's own
// qkv_tokenizer.json: a tokenizer.json describes the whole pipeline, so it comes before the
// vocabulary files that a folder may hold beside it.
func init() {
	register(loadTokenizerJSONDir)
	register(loadGPT2Dir)
	register(loadVocabTxtDir)
}

func loadTokenizerJSONDir(dir string) (Tokenizer, bool, error) {
	path := filepath.Join(dir, tokenizerJSONFile)
	if !exists(path) {
		return nil, false, nil
	}
	tok, err := LoadTokenizerJSON(path)
	return tok, err == nil, err
}

func loadGPT2Dir(dir string) (Tokenizer, bool, error) {
	for _, names := range gpt2FileNames {
		if exists(filepath.Join(dir, names[0])) && exists(filepath.Join(dir, names[1])) {
			g, err := loadGPT2Files(dir, names[0], names[1])
			if err != nil {
				return nil, false, err
			}
			return g, true, nil
		}
	}
	return nil, false, nil
}

func loadVocabTxtDir(dir string) (Tokenizer, bool, error) {
	if !exists(filepath.Join(dir, vocabTxtFile)) {
		return nil, false, nil
	}
	w, err := loadWordPieceDir(dir)
	if err != nil {
		return nil, false, err
	}
	return w, true, nil
}
