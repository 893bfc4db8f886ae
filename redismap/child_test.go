package redismap_test

const childEnv = "REDISMAP_TEST_CHILD"

func runChild(role string) int { return 2 }
