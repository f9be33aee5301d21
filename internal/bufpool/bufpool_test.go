package bufpool

import "testing"

func TestClass(t *testing.T) {
	for _, c := range []struct{ n, want int }{
		{0, 4096}, {1, 4096}, {4096, 4096}, {4097, 8192}, {9 << 10, 16 << 10},
		{100 << 10, 128 << 10}, {256 << 10, 256 << 10}, {256<<10 + 1, 256<<10 + 1}, {25 << 20, 25 << 20},
	} {
		if got := Class(c.n); got != c.want {
			t.Errorf("Class(%d) = %d, want %d", c.n, got, c.want)
		}
	}
}

func TestGetPut(t *testing.T) {
	for _, n := range []int{1, 5000, 100 << 10, 256 << 10, 5 << 20} {
		b := Get(n)
		if len(b) != 0 || cap(b) != Class(n) {
			t.Fatalf("Get(%d): len %d cap %d, want 0 and %d", n, len(b), cap(b), Class(n))
		}
		b = append(b, "x"...)
		Put(b)
		if b := Get(n); len(b) != 0 || cap(b) != Class(n) {
			t.Fatalf("Get(%d) after Put: len %d cap %d", n, len(b), cap(b))
		}
	}
	Put(make([]byte, 10, 3000)) // not a class: dropped, no panic
	Put(nil)
}
