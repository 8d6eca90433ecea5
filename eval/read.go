package eval

import "github.com/qkvdev/qkv/data"

// ReadSegments reads a file of segments, one a line, as sacreBLEU's command line does: UTF-8,
// gzip-compressed when the name ends in ".gz", lines split at "\n", each stripped of trailing
// whitespace (Python's str.rstrip, so "\r" of Windows line ends goes too). A whitespace-only
// reference line thus becomes empty, which BLEU and CHRF read as "no reference here".
func ReadSegments(path string) ([]string, error) {
	lines, err := data.ReadLines(path, data.MaxParallelBytes)
	if err != nil {
		return nil, err
	}
	for i, l := range lines {
		lines[i] = pyRstrip(l)
	}
	return lines, nil
}
