package nli_test

import (
	"fmt"
	"strings"

	"github.com/qkvdev/qkv/data/nli"
)

func ExampleTask_Read() {
	task, err := nli.Lookup("rte")
	if err != nil {
		panic(err)
	}
	tsv := "index\tsentence1\tsentence2\tlabel\n" +
		"0\tDana Reeve has died of lung cancer.\tDana Reeve is dead.\tentailment\n" +
		"1\tThe \"Eagle\" landed.\tNobody landed.\tnot_entailment\n"
	d, err := task.Read(strings.NewReader(tsv), "dev.tsv", nli.FormatAuto)
	if err != nil {
		panic(err)
	}
	for _, e := range d.Examples {
		fmt.Printf("%s | %s -> %s\n", e.Premise, e.Hypothesis, task.Labels[e.Label])
	}
	// Output:
	// Dana Reeve has died of lung cancer. | Dana Reeve is dead. -> entailment
	// The "Eagle" landed. | Nobody landed. -> not_entailment
}
