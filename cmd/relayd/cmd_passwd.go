package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// passwd is `relayd passwd`: reads a password (from the terminal without
// echo, asked twice; or the first line of stdin when it is not a terminal)
// and prints its bcrypt hash for [[team.user]] password_hash.
func (c *cli) passwd(args []string) int {
	fs, _ := c.newFlags("passwd")
	cost := fs.Int("cost", bcrypt.DefaultCost, "bcrypt cost, 10 to 31 (each step doubles the work of every AUTH)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if !c.noArgs(fs) {
		return 2
	}
	if *cost < bcrypt.DefaultCost || *cost > bcrypt.MaxCost {
		fmt.Fprintf(c.stderr, "relayd passwd: -cost must be between %d and %d\n", bcrypt.DefaultCost, bcrypt.MaxCost)
		return 2
	}
	pw, err := readPassword(c.stdin, c.stderr)
	if err != nil {
		fmt.Fprintf(c.stderr, "relayd passwd: %v\n", err)
		return 1
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(pw), *cost)
	if err != nil {
		fmt.Fprintf(c.stderr, "relayd passwd: %v\n", err)
		return 1
	}
	fmt.Fprintln(c.stdout, string(hash))
	return 0
}

// readPassword reads from the terminal with echo off when in is one, asking
// twice; otherwise it reads the first line of in.
func readPassword(in io.Reader, prompt io.Writer) (string, error) {
	if t, ok := openTerminal(in); ok {
		defer t.restore()
		fmt.Fprint(prompt, "Password: ")
		a, err := t.readLine()
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		fmt.Fprint(prompt, "Repeat password: ")
		b, err := t.readLine()
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		if a != b {
			return "", errors.New("the passwords do not match")
		}
		return checkPassword(a)
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", errors.New("no password on standard input")
	}
	return checkPassword(strings.TrimRight(line, "\r\n"))
}

func checkPassword(pw string) (string, error) {
	switch {
	case pw == "":
		return "", errors.New("empty password")
	case len(pw) > 72:
		return "", errors.New("password longer than 72 bytes: bcrypt would ignore the rest")
	}
	return pw, nil
}
