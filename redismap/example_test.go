package redismap_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/safemap-go/safemap/redismap"
)

// These examples need a Redis server, so they are compiled but not run by
// go test (no Output comment). examples/redis-cache is a program to run
// against a local Redis; the tests of this package run the same calls
// against servers they start.

type User struct {
	ID   int
	Name string
}

var errNoSuchUser = errors.New("no such user")

func queryUser(ctx context.Context, id int) (User, error) { return User{ID: id, Name: "Ada"}, nil }

func Example() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()

	users, err := redismap.New(client, redismap.Options[int, User]{
		Prefix:       "users",
		TTL:          10 * time.Minute,
		Lease:        2 * time.Second, // a crashed loader delays the key by at most this
		NegativeTTL:  30 * time.Second,
		SharedErrors: []error{errNoSuchUser},
		NearCache:    redismap.NearCacheOptions{Size: 10_000, TTL: time.Minute},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer users.Close()

	ctx := context.Background()
	// However many processes and goroutines miss user 42 together, one of
	// them queries the database; the others get its value.
	u, loaded, err := users.LoadOrTryCompute(ctx, 42, func(ctx context.Context) (User, error) {
		return queryUser(ctx, 42)
	})
	switch {
	case errors.Is(err, redismap.ErrFenced):
		// Our lease ran out while we loaded and another caller's value won;
		// u is still ours to use.
	case err != nil:
		log.Fatal(err)
	}
	fmt.Println(u.Name, loaded)
}

func ExampleFencingToken() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()
	reports, err := redismap.New(client, redismap.Options[string, string]{Prefix: "reports"})
	if err != nil {
		log.Fatal(err)
	}
	defer reports.Close()

	reports.LoadOrTryCompute(context.Background(), "2026-12", func(ctx context.Context) (string, error) {
		// Pass the token to the systems the loader writes to, so that they
		// reject a write from a loader whose lease has been taken over.
		token, _ := redismap.FencingToken(ctx)
		fmt.Println("building the report under token", token)
		return "report", nil
	})
}

func ExampleSharedError() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()
	users, err := redismap.New(client, redismap.Options[int, User]{SharedErrors: []error{errNoSuchUser}})
	if err != nil {
		log.Fatal(err)
	}
	defer users.Close()

	_, _, err = users.LoadOrTryCompute(context.Background(), 7, func(ctx context.Context) (User, error) {
		return User{}, errNoSuchUser
	})
	var shared *redismap.SharedError
	if errors.As(err, &shared) {
		// Another process's loader failed: its message, and, because
		// errNoSuchUser is listed in SharedErrors, errors.Is still works.
		fmt.Println(shared.Message, errors.Is(err, errNoSuchUser))
	}
}

func queryUsers(ctx context.Context, ids []int) (map[int]User, error) {
	users := make(map[int]User, len(ids))
	for _, id := range ids {
		if id != 7 { // user 7 does not exist: left out, so not found
			users[id] = User{ID: id, Name: "Ada"}
		}
	}
	return users, nil
}

func ExampleMap_LoadOrTryComputeAll() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()
	users, err := redismap.New(client, redismap.Options[int, User]{Prefix: "users", MaxBatch: 500})
	if err != nil {
		log.Fatal(err)
	}
	defer users.Close()

	// Present users cost one round trip; the missing ones are loaded with
	// one query, by one process, whichever processes ask for them.
	page, err := users.LoadOrTryComputeAll(context.Background(), []int{1, 2, 7, 42}, queryUsers)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(page)) // user 7 is not found: absent, not an error
}

func ExampleOptions_refreshAfter() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()
	// A hit on a value older than 45 s returns it and reloads it in the
	// background, in one process: a hot key never makes its callers wait
	// for the reload when it expires.
	pages, err := redismap.New(client, redismap.Options[string, string]{
		Prefix: "pages", TTL: time.Minute, RefreshAfter: 45 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer pages.Close()
	page, _, err := pages.LoadOrTryCompute(context.Background(), "/", func(ctx context.Context) (string, error) {
		return "<html>…</html>", nil
	})
	fmt.Println(len(page), err)
}
