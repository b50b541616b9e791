package messages

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// publishCases is shared by the table test and the fuzz seed corpus.
var publishCases = []struct {
	name  string
	body  string
	want  []Draft // nil when an error is expected
	batch bool
	code  string
}{
	{
		name: "single",
		body: `{"topic":"orders.updated","data":{"any":"json"},"id":"k1"}`,
		want: []Draft{{Topic: "orders.updated", ID: "k1", Data: json.RawMessage(`{"any":"json"}`)}},
	},
	{
		name: "single without id",
		body: `{"topic":"t","data":1}`,
		want: []Draft{{Topic: "t", Data: json.RawMessage(`1`)}},
	},
	{
		name: "data kept byte for byte",
		body: " {\n \"data\" : { \"b\" :1.50e+2 ,\n\"a\":[ ] , \"s\":\"\\u00e9\\n\" } ,\"topic\":\"x\"}\n",
		want: []Draft{{Topic: "x", Data: json.RawMessage("{ \"b\" :1.50e+2 ,\n\"a\":[ ] , \"s\":\"\\u00e9\\n\" }")}},
	},
	{
		name: "data null accepted",
		body: `{"topic":"t","data":null}`,
		want: []Draft{{Topic: "t", Data: json.RawMessage(`null`)}},
	},
	{
		name: "data string with braces",
		body: `{"topic":"t","data":"}]\"{["}`,
		want: []Draft{{Topic: "t", Data: json.RawMessage(`"}]\"{["`)}},
	},
	{
		name: "data false and unknown members ignored",
		body: `{"topic":"t","data":false,"extra":{"topic":1},"Topic":"ignored"}`,
		want: []Draft{{Topic: "t", Data: json.RawMessage(`false`)}},
	},
	{
		name: "id null means absent",
		body: `{"topic":"t","data":0,"id":null}`,
		want: []Draft{{Topic: "t", Data: json.RawMessage(`0`)}},
	},
	{
		name: "escaped member names and values",
		body: `{"top\u0069c":"a\u002eb","data":[],"id":"\u00e9"}`,
		want: []Draft{{Topic: "a.b", ID: "é", Data: json.RawMessage(`[]`)}},
	},
	{
		name: "unicode data",
		body: `{"topic":"t","data":"日本\u2028"}`,
		want: []Draft{{Topic: "t", Data: json.RawMessage(`"日本\u2028"`)}},
	},
	{
		name:  "batch",
		body:  `{"events":[{"topic":"a","data":1},{"topic":"a","data":{"x":[1,2]},"id":"i2"},{"topic":"b","data":"s"}]}`,
		batch: true,
		want: []Draft{
			{Topic: "a", Data: json.RawMessage(`1`)},
			{Topic: "a", ID: "i2", Data: json.RawMessage(`{"x":[1,2]}`)},
			{Topic: "b", Data: json.RawMessage(`"s"`)},
		},
	},
	{
		name:  "batch of one",
		body:  `{"events":[{"topic":"a","data":1}]}`,
		batch: true,
		want:  []Draft{{Topic: "a", Data: json.RawMessage(`1`)}},
	},
	{
		name:  "batch ignores events inside an element",
		body:  `{"events":[{"topic":"a","data":1,"events":[]}],"meta":1}`,
		batch: true,
		want:  []Draft{{Topic: "a", Data: json.RawMessage(`1`)}},
	},
	{
		name:  "batch max",
		body:  batchBody(MaxBatch),
		batch: true,
		want:  batchDrafts(MaxBatch),
	},
	{
		name: "batch too large",
		body: batchBody(MaxBatch + 1),
		code: CodeBatchTooLarge,
	},
	{
		name: "batch too large with bad elements",
		body: `{"events":[` + strings.Repeat(`1,`, MaxBatch) + `1]}`,
		code: CodeBatchTooLarge,
	},
	{
		name: "empty batch",
		body: `{"events":[]}`,
		code: CodeEmptyBatch,
	},
	{
		name: "events not array",
		body: `{"events":{}}`,
		code: CodeInvalidJSON,
	},
	{
		name: "events null",
		body: `{"events":null}`,
		code: CodeInvalidJSON,
	},
	{
		name: "batch element not object",
		body: `{"events":[{"topic":"a","data":1},"x"]}`,
		code: CodeInvalidJSON,
	},
	{
		name: "batch element bad topic",
		body: `{"events":[{"topic":"a","data":1},{"topic":"a b","data":1}]}`,
		code: CodeInvalidTopic,
	},
	{
		name: "batch element missing data",
		body: `{"events":[{"topic":"a"}]}`,
		code: CodeMissingData,
	},
	{
		name: "events and topic",
		body: `{"events":[{"topic":"a","data":1}],"topic":"a"}`,
		code: CodeInvalidBody,
	},
	{
		name: "events and data",
		body: `{"data":1,"events":[{"topic":"a","data":1}]}`,
		code: CodeInvalidBody,
	},
	{
		name: "empty object",
		body: `{}`,
		code: CodeInvalidBody,
	},
	{
		name: "only unknown members",
		body: `{"Topic":"a","Data":1}`,
		code: CodeInvalidBody,
	},
	{
		name: "to names users",
		body: `{"topic":"t","data":1,"to":["alice","b\u00f6b","alice"]}`,
		want: []Draft{{Topic: "t", Data: json.RawMessage(`1`), To: []string{"alice", "böb", "alice"}}},
	},
	{
		name: "to null means absent",
		body: `{"topic":"t","data":1,"to":null}`,
		want: []Draft{{Topic: "t", Data: json.RawMessage(`1`)}},
	},
	{
		name:  "to per event of a batch",
		body:  `{"events":[{"topic":"a","data":1,"to":["u1"]},{"topic":"a","data":2}]}`,
		batch: true,
		want: []Draft{
			{Topic: "a", Data: json.RawMessage(`1`), To: []string{"u1"}},
			{Topic: "a", Data: json.RawMessage(`2`)},
		},
	},
	{name: "to empty", body: `{"topic":"t","data":1,"to":[]}`, code: CodeInvalidTo},
	{name: "to not an array", body: `{"topic":"t","data":1,"to":"alice"}`, code: CodeInvalidTo},
	{name: "to non-string", body: `{"topic":"t","data":1,"to":["a",1]}`, code: CodeInvalidTo},
	{name: "to empty user", body: `{"topic":"t","data":1,"to":[""]}`, code: CodeInvalidTo},
	{name: "to user too long", body: `{"topic":"t","data":1,"to":["` + strings.Repeat("u", MaxUserLen+1) + `"]}`, code: CodeInvalidTo},
	{name: "to too many", body: `{"topic":"t","data":1,"to":[` + strings.TrimSuffix(strings.Repeat(`"u",`, MaxTo+1), ",") + `]}`, code: CodeInvalidTo},
	{name: "to in a batch element", body: `{"events":[{"topic":"a","data":1},{"topic":"a","data":1,"to":[]}]}`, code: CodeInvalidTo},
	{name: "to beside events", body: `{"events":[{"topic":"a","data":1}],"to":["u"]}`, code: CodeInvalidBody},
	{name: "to twice", body: `{"topic":"t","data":1,"to":["a"],"to":["b"]}`, code: CodeInvalidJSON},
	{
		name: "top-level array",
		body: `[{"topic":"a","data":1}]`,
		code: CodeInvalidBody,
	},
	{
		name: "top-level string",
		body: `"x"`,
		code: CodeInvalidBody,
	},
	{
		name: "empty body",
		body: ``,
		code: CodeInvalidJSON,
	},
	{
		name: "whitespace body",
		body: " \n",
		code: CodeInvalidJSON,
	},
	{
		name: "malformed",
		body: `{"topic":"a","data":}`,
		code: CodeInvalidJSON,
	},
	{
		name: "truncated",
		body: `{"topic":"a","data":{"x":1}`,
		code: CodeInvalidJSON,
	},
	{
		name: "trailing garbage",
		body: `{"topic":"a","data":1} x`,
		code: CodeInvalidJSON,
	},
	{
		name: "two objects",
		body: `{"topic":"a","data":1}{"topic":"a","data":1}`,
		code: CodeInvalidJSON,
	},
	{
		name: "invalid utf8",
		body: "{\"topic\":\"a\",\"data\":\"\xff\"}",
		code: CodeInvalidJSON,
	},
	{
		name: "duplicate topic",
		body: `{"topic":"a","topic":"b","data":1}`,
		code: CodeInvalidJSON,
	},
	{
		name: "duplicate data via escape",
		body: `{"topic":"a","data":1,"d\u0061ta":2}`,
		code: CodeInvalidJSON,
	},
	{
		name: "topic number",
		body: `{"topic":5,"data":1}`,
		code: CodeInvalidJSON,
	},
	{
		name: "topic null",
		body: `{"topic":null,"data":1}`,
		code: CodeInvalidJSON,
	},
	{
		name: "missing topic",
		body: `{"data":1}`,
		code: CodeInvalidTopic,
	},
	{
		name: "empty topic",
		body: `{"topic":"","data":1}`,
		code: CodeInvalidTopic,
	},
	{
		name: "topic with star",
		body: `{"topic":"orders.*","data":1}`,
		code: CodeInvalidTopic,
	},
	{
		name: "topic too long",
		body: `{"topic":"` + strings.Repeat("t", 257) + `","data":1}`,
		code: CodeInvalidTopic,
	},
	{
		name: "topic escaped to invalid",
		body: `{"topic":"a\u0020b","data":1}`,
		code: CodeInvalidTopic,
	},
	{
		name: "missing data",
		body: `{"topic":"a","id":"x"}`,
		code: CodeMissingData,
	},
	{
		name: "id number",
		body: `{"topic":"a","data":1,"id":7}`,
		code: CodeInvalidJSON,
	},
	{
		name: "id empty",
		body: `{"topic":"a","data":1,"id":""}`,
		code: CodeInvalidID,
	},
	{
		name: "id too long",
		body: `{"topic":"a","data":1,"id":"` + strings.Repeat("i", MaxIDLen+1) + `"}`,
		code: CodeInvalidID,
	},
	{
		name: "id control char",
		body: `{"topic":"a","data":1,"id":"a\nb"}`,
		code: CodeInvalidID,
	},
}

func batchBody(n int) string {
	var b strings.Builder
	b.WriteString(`{"events":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"topic":"t.%d","data":{"n":%d}}`, i%3, i)
	}
	b.WriteString(`]}`)
	return b.String()
}

func batchDrafts(n int) []Draft {
	ds := make([]Draft, n)
	for i := range ds {
		ds[i] = Draft{
			Topic: fmt.Sprintf("t.%d", i%3),
			Data:  json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)),
		}
	}
	return ds
}

func TestParsePublish(t *testing.T) {
	for _, tc := range publishCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePublish([]byte(tc.body))
			if tc.code != "" {
				var me *Error
				if !errors.As(err, &me) {
					t.Fatalf(
						"err = %v (%T), want *Error with code %s",
						err, err, tc.code,
					)
				}
				if me.Code != tc.code {
					t.Fatalf(
						"code = %s (%s), want %s",
						me.Code, me.Message, tc.code,
					)
				}
				if p.Drafts != nil || p.Batch {
					t.Fatalf(
						"partial result on error: %+v",
						p,
					)
				}
				return
			}
			if err != nil {
				t.Fatalf(
					"unexpected error: %v",
					err,
				)
			}
			if p.Batch != tc.batch {
				t.Errorf(
					"Batch = %v, want %v",
					p.Batch, tc.batch,
				)
			}
			if len(p.Drafts) != len(tc.want) {
				t.Fatalf(
					"%d drafts, want %d",
					len(p.Drafts), len(tc.want),
				)
			}
			for i, d := range p.Drafts {
				w := tc.want[i]
				if d.Topic != w.Topic || d.ID != w.ID || !bytes.Equal(d.Data, w.Data) {
					t.Errorf(
						"draft %d = {%q %q %s}, want {%q %q %s}",
						i, d.Topic, d.ID, d.Data, w.Topic, w.ID, w.Data,
					)
				}
			}
		})
	}
}

func TestParsePublishErrorMessages(t *testing.T) {
	cases := []struct {
		name string
		body string
		want string
	}{
		{
			name: "batch index",
			body: `{"events":[{"topic":"a","data":1},{"topic":"a"}]}`,
			want: `missing_data: events[1]: "data" is required`,
		},
		{
			name: "syntax offset",
			body: `{"topic":"a",}`,
			want: "invalid_json: malformed JSON at byte 14: invalid character '}' looking for beginning of object key string",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePublish([]byte(tc.body))
			if err == nil || err.Error() != tc.want {
				t.Fatalf(
					"err = %v, want %s",
					err, tc.want,
				)
			}
		})
	}
}

// The body buffer may be reused after ParsePublish returns.
func TestParsePublishCopiesData(t *testing.T) {
	body := []byte(`{"events":[{"topic":"a","data":{"x":1}},{"topic":"a","data":[2]}]}`)
	p, err := ParsePublish(body)
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 'Z'
	}
	if string(p.Drafts[0].Data) != `{"x":1}` || string(p.Drafts[1].Data) != `[2]` {
		t.Fatalf(
			"data changed with the body: %s %s",
			p.Drafts[0].Data, p.Drafts[1].Data,
		)
	}
	// Appending to one draft's data must not overwrite the next one's.
	_ = append(p.Drafts[0].Data, "!!!!"...)
	if string(p.Drafts[1].Data) != `[2]` {
		t.Fatalf(
			"drafts share writable capacity: %s",
			p.Drafts[1].Data,
		)
	}
}

// The error is a typed nil-free interface value: a nil *Error must never
// escape as a non-nil error.
func TestParsePublishNilError(t *testing.T) {
	_, err := ParsePublish([]byte(`{"topic":"a","data":1}`))
	if err != nil {
		t.Fatalf(
			"err = %#v, want nil",
			err,
		)
	}
}

func FuzzParsePublish(f *testing.F) {
	for _, tc := range publishCases {
		if len(tc.body) < 4096 {
			f.Add([]byte(tc.body))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		p, err := ParsePublish(body)
		if !bytes.Equal(orig, body) {
			t.Fatal("ParsePublish modified its input")
		}
		if err != nil {
			var me *Error
			if !errors.As(err, &me) || me.Code == "" {
				t.Fatalf(
					"error %v is not a coded *Error",
					err,
				)
			}
			if p.Drafts != nil {
				t.Fatal("drafts returned with an error")
			}
			return
		}
		if !json.Valid(body) {
			t.Fatal("accepted invalid JSON")
		}
		if n := len(p.Drafts); n < 1 || n > MaxBatch {
			t.Fatalf(
				"%d drafts",
				n,
			)
		}
		checkFramesBound(t, body, p.Drafts)
		for i, d := range p.Drafts {
			if !ValidTopic(d.Topic) {
				t.Fatalf(
					"draft %d: invalid topic %q",
					i, d.Topic,
				)
			}
			if d.ID != "" && !ValidID(d.ID) {
				t.Fatalf(
					"draft %d: invalid id %q",
					i, d.ID,
				)
			}
			if !json.Valid(d.Data) || !utf8.Valid(d.Data) {
				t.Fatalf(
					"draft %d: data %q is not valid JSON",
					i, d.Data,
				)
			}
			// Data is a verbatim slice of the body: it must occur in it.
			if !bytes.Contains(body, d.Data) {
				t.Fatalf(
					"draft %d: data %q not found verbatim in the body",
					i, d.Data,
				)
			}
			// Re-encoding in an event frame and decoding it gives back the
			// same bytes.
			fr := EncodeEvent(Event{Seq: 1, Topic: d.Topic, ID: d.ID, Data: d.Data})
			var got struct {
				Topic string          `json:"topic"`
				ID    string          `json:"id"`
				Data  json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(framePayload(t, fr.Plain), &got); err != nil {
				t.Fatalf(
					"draft %d: event frame: %v",
					i, err,
				)
			}
			if !bytes.Equal(got.Data, d.Data) || got.Topic != d.Topic || got.ID != d.ID {
				t.Fatalf(
					"draft %d: round trip {%q %q %q}, want {%q %q %q}",
					i, got.Topic, got.ID, got.Data, d.Topic, d.ID, d.Data,
				)
			}
		}
	})
}

func BenchmarkParsePublish(b *testing.B) {
	single := []byte(`{"topic":"orders.updated","id":"3f1c9a2e-7d4b","data":` + string(benchData(256)) + `}`)
	batch := []byte(batchBody(100))
	for _, bc := range []struct {
		name string
		body []byte
	}{
		{
			name: "single",
			body: single,
		},
		{
			name: "batch100",
			body: batch,
		},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.body)))
			for b.Loop() {
				if _, err := ParsePublish(bc.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
