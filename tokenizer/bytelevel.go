package tokenizer

import "unicode/utf8"

// GPT-2's byte-level vocabulary files write every byte as a printable character, so that token
// strings never contain spaces or control characters: the printable Latin-1 bytes ('!'..'~',
// '¡'..'¬', '®'..'ÿ') stand for themselves and the other 68 bytes (space, controls, DEL, NBSP,
// soft hyphen) are written as U+0100.. in byte order. A space is therefore 'Ġ' (U+0120) and a
// newline 'Ċ' (U+010A).

// byteRune maps a byte to the character that writes it in vocabulary files.
var byteRune [256]rune

// runeByte maps those characters back to bytes; runeByteOK tells which entries are used.
var (
	runeByte   [324]byte
	runeByteOK [324]bool
)

// byteOrder lists the bytes in GPT-2's id order: the printable bytes first, then the others.
// The byte with id i in GPT-2's encoder.json is byteOrder[i].
var byteOrder [256]byte

func init() {
	printable := func(b int) bool {
		return b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF
	}
	n, k := 0, 0
	for b := 0; b < 256; b++ {
		if printable(b) {
			byteRune[b] = rune(b)
			byteOrder[k] = byte(b)
			k++
		}
	}
	for b := 0; b < 256; b++ {
		if !printable(b) {
			byteRune[b] = rune(256 + n)
			byteOrder[k] = byte(b)
			n++
			k++
		}
	}
	for b, r := range byteRune {
		runeByte[r] = byte(b)
		runeByteOK[r] = true
	}
}

// byteLevelEncode writes raw bytes in the vocabulary-file alphabet.
func byteLevelEncode(b []byte) string {
	out := make([]rune, len(b))
	for i, c := range b {
		out[i] = byteRune[c]
	}
	return string(out)
}

// byteLevelDecode turns a vocabulary-file token back into raw bytes. ok is false when s holds a
// character outside the 256-character alphabet (or invalid UTF-8).
func byteLevelDecode(s string) (b []byte, ok bool) {
	b = make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 || int(r) >= len(runeByteOK) || !runeByteOK[r] {
			return nil, false
		}
		b = append(b, runeByte[r])
		i += size
	}
	return b, true
}
