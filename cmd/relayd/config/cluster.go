package config

import (
	"github.com/relayd/relayd/cluster"
)

// validateCluster checks [cluster] (docs/relayd.toml.5.md) and reads its password file.
// The URL is never quoted in a message: it may hold a password.
func validateCluster(f *File, p *problems) {
	c := &f.Cluster
	if c.Redis == "" {
		if c.RedisPasswordFile != "" {
			p.err(&c.tableMeta, "redis_password_file", "is set but redis is not: set redis = \"redis://HOST:6379/0\" or remove it")
		}
		return
	}
	if err := cluster.CheckURL(c.Redis); err != nil {
		p.err(&c.tableMeta, "redis", "%v", err)
		return
	}
	if c.RedisPasswordFile != "" && f.mode.Full {
		c.password = readSecretFile(&c.tableMeta, "redis_password_file", c.RedisPasswordFile, p)
	}
}
