package bench

import (
	"errors"
	"fmt"
	"strconv"
)

// A network partition of one node, on loopback, without root.
//
// A proxy on each node's --routes alone does not partition a node: the
// NATS route gossip tells every node the route address the others
// advertise (their --cluster-listen), and a node that learns of a server
// it has no route to dials that address directly (an implicit route,
// processImplicitRoute in nats-server's route.go), around any proxy. So a
// partitionable cluster (DaemonConfig.Partitionable) is wired this way:
//
//   - one Proxy per ordered pair of nodes, P[x][y], listening on its own
//     port and forwarding to y's route port, used only by x: x's --routes
//     are its P[x][y]. Traffic of a route that x solicited goes both ways
//     through P[x][y]; one that y solicited through P[y][x].
//   - every node advertises (--cluster-advertise) a refusedAddr: a port
//     that refuses every dial and that nobody can bind. nats-server 2.15
//     uses the advertised address only to dial implicit routes
//     (processImplicitRoute dials info.IP, which Cluster.Advertise sets);
//     an implicit route whose dial fails is tried ConnectRetries times (0
//     by default: once) and forgotten, while the explicit routes of
//     --routes are retried forever through the proxies. Routes that a node
//     accepted are never redialed by it (only solicited ones reconnect,
//     closeConnection in client.go), and the extra connections of a route
//     pool are dialed by the soliciting side to its own configured URL
//     (addRoute's startNewRoute). So no connection between two nodes
//     bypasses the proxies.
//
// Partition(i) blocks every proxy to and from node i; the others keep
// their routes to each other. A closed port instead of the refusedAddr
// would do until some process took the port; an address that accepts and
// closes would not: a solicited implicit route that closes is redialed at
// once, without a limit (retryImplicit in closeConnection).

// links are the route proxies of a partitionable cluster.
type links struct {
	// p[x][y] is the proxy x dials to reach y; nil when x == y.
	p [][]*Proxy
	// refused is the address every node advertises.
	refused *refusedAddr
}

// startLinks starts the proxies between nodes whose route ports are ports.
func startLinks(ports []int) (*links, error) {
	l := &links{p: make([][]*Proxy, len(ports))}
	var err error
	if l.refused, err = newRefusedAddr(); err != nil {
		return nil, err
	}
	for x := range ports {
		l.p[x] = make([]*Proxy, len(ports))
		for y, port := range ports {
			if x == y {
				continue
			}
			if l.p[x][y], err = StartProxy("127.0.0.1:0", "127.0.0.1:"+strconv.Itoa(port)); err != nil {
				_ = l.Close()
				return nil, fmt.Errorf("%w: route proxy: %w", ErrDaemon, err)
			}
		}
	}
	return l, nil
}

// routes are node x's --routes: its proxies to the others.
func (l *links) routes(x int) []string {
	var out []string
	for _, p := range l.p[x] {
		if p != nil {
			out = append(out, "nats://"+p.Addr())
		}
	}
	return out
}

// set blocks (or heals) every proxy to and from node i.
func (l *links) set(i int, block bool) {
	for j := range l.p {
		for _, p := range []*Proxy{l.p[i][j], l.p[j][i]} {
			switch {
			case p == nil:
			case block:
				p.Block()
			default:
				p.Heal()
			}
		}
	}
}

// Close closes every proxy and the refused address.
func (l *links) Close() error {
	var errs []error
	for _, row := range l.p {
		for _, p := range row {
			if p != nil {
				errs = append(errs, p.Close())
			}
		}
	}
	if l.refused != nil {
		errs = append(errs, l.refused.Close())
	}
	return errors.Join(errs...)
}

// Partition cuts node i off the other nodes: every byte between them is
// held (see Proxy) until Heal. Clients still reach every node. It needs a
// cluster started with DaemonConfig.Partitionable.
func (c *Cluster) Partition(i int) error {
	return c.setPartition(i, true)
}

// Heal ends the partition of node i.
func (c *Cluster) Heal(i int) error {
	return c.setPartition(i, false)
}

func (c *Cluster) setPartition(i int, block bool) error {
	if c.links == nil {
		return fmt.Errorf("%w: partition: the cluster was not started Partitionable", ErrConfig)
	}
	if i < 0 || i >= len(c.links.p) {
		return fmt.Errorf("%w: partition: no node %d", ErrConfig, i)
	}
	c.links.set(i, block)
	return nil
}
