//! A /pipeline on a cluster: one pipeline per master (the map of `slots.rs`), the masters at
//! once, so that each slot's commands run in order; slot by slot where the master is not known.

use futures_util::future::join_all;
use redis::aio::ConnectionLike;
use redis::cluster_routing::SingleNodeRoutingInfo;
use redis::{ErrorKind, Pipeline, RedisError, Value};

use super::{as_result, did_not_run, node_failed, reads_only, slot_of, Cluster, SlotGroup};
use crate::execute::to_cmd;
use crate::request::Command;

impl Cluster {
    /// Commands with the effect of running them in order; one result each. A run of commands
    /// whose slot is known goes as one group per slot, the groups at once and each group's
    /// commands one after another (reads and writes take different connections, so only
    /// waiting keeps a read behind the write before it). Any other command runs alone, after
    /// what precedes it. After a command whose node failed, nothing more is sent.
    pub async fn pipeline(&self, commands: &[Command]) -> Vec<Result<Value, RedisError>> {
        let mut results: Vec<Option<Result<Value, RedisError>>> =
            commands.iter().map(|_| None).collect();
        let mut next = 0;
        while next < commands.len() {
            let mut groups: Vec<SlotGroup> = Vec::new();
            while let Some(slot) = commands.get(next).and_then(slot_of) {
                match groups.iter_mut().find(|(s, _)| *s == slot) {
                    Some((_, group)) => group.push(next),
                    None => groups.push((slot, vec![next])),
                }
                next += 1;
            }
            let ran = if groups.is_empty() {
                next += 1;
                vec![vec![(next - 1, self.single(&commands[next - 1]).await)]]
            } else {
                self.by_master(commands, &groups).await
            };
            let failed = ran.iter().flatten().any(|(_, r)| node_failed(r));
            for (i, result) in ran.into_iter().flatten() {
                results[i] = Some(result);
            }
            if failed {
                break;
            }
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(RedisError::from((
                        ErrorKind::ClusterConnectionNotFound,
                        "not sent: a node failed on an earlier command of the request",
                    )))
                })
            })
            .collect()
    }

    /// Slot groups (see `pipeline`) as one pipeline per master, the masters at once: Redis runs
    /// a pipeline in order, which keeps each slot's commands in order. A slot whose master the
    /// map does not know, or a master with one slot group, goes slot by slot (`in_order`).
    async fn by_master(
        &self,
        commands: &[Command],
        groups: &[SlotGroup],
    ) -> Vec<Vec<(usize, Result<Value, RedisError>)>> {
        let map = match self.reads.get().await {
            Ok(mut conn) => self.slots.get(&mut conn).await,
            Err(_) => None,
        };
        // Each master (its index in the map; `None`: not known) with its slot groups.
        let mut masters: Vec<(Option<usize>, Vec<&SlotGroup>)> = Vec::new();
        for group in groups {
            let master = map.as_ref().and_then(|m| m.master_of(group.0));
            match masters
                .iter_mut()
                .find(|(m, _)| m.is_some() && *m == master)
            {
                Some((_, list)) => list.push(group),
                None => masters.push((master, vec![group])),
            }
        }
        let map = map.as_ref();
        let runs = masters.into_iter().map(|(master, list)| async move {
            match (master, map) {
                (Some(index), Some(map)) if list.len() > 1 => {
                    let mut indexes: Vec<usize> =
                        list.iter().flat_map(|(_, g)| g.iter().copied()).collect();
                    indexes.sort_unstable();
                    self.on_master(commands, &indexes, &map.masters[index], &list)
                        .await
                }
                _ => join_all(list.iter().map(|(_, group)| self.in_order(commands, group)))
                    .await
                    .into_iter()
                    .flatten()
                    .collect(),
            }
        });
        join_all(runs).await
    }

    /// The commands at `indexes` (request order), all of slots `address`'s master serves, as
    /// one pipeline to it: on the reads connection when they only read, else on the writes
    /// connection. A command answered with an error that says it did not run (MOVED: the slot
    /// moved) goes again on its own, in order; a pipeline that failed as a whole goes slot by
    /// slot when it only read or did not run, else fails each command (it may have run).
    async fn on_master(
        &self,
        commands: &[Command],
        indexes: &[usize],
        address: &(String, u16),
        groups: &[&SlotGroup],
    ) -> Vec<(usize, Result<Value, RedisError>)> {
        let read_only = indexes
            .iter()
            .all(|&i| reads_only(&commands[i].name().to_ascii_uppercase()));
        let mut pipe = Pipeline::with_capacity(indexes.len());
        for &i in indexes {
            pipe.add_command(to_cmd(&commands[i]));
        }
        let route = SingleNodeRoutingInfo::ByAddress {
            host: address.0.clone(),
            port: address.1,
        };
        let sent = match if read_only {
            self.reads.get().await
        } else {
            self.writes.get().await
        } {
            Ok(mut conn) => conn.route_pipeline(pipe, 0, indexes.len(), route).await,
            Err(e) => Err(e),
        };
        let sent = match sent {
            Ok(values) if values.len() != indexes.len() => Err(RedisError::from((
                ErrorKind::Io,
                "a pipeline answer of the wrong length",
            ))),
            other => other,
        };
        let values = match sent {
            Ok(values) => values,
            Err(e) => {
                self.slots.forget();
                if read_only || did_not_run(&e) {
                    return join_all(
                        groups
                            .iter()
                            .map(|(_, group)| self.in_order(commands, group)),
                    )
                    .await
                    .into_iter()
                    .flatten()
                    .collect();
                }
                return indexes.iter().map(|&i| (i, Err(e.clone()))).collect();
            }
        };
        let mut out = Vec::with_capacity(indexes.len());
        for (&i, value) in indexes.iter().zip(values) {
            let result = match as_result(Ok(value)) {
                Err(e) if did_not_run(&e) => {
                    self.slots.forget();
                    self.single(&commands[i]).await
                }
                // A tag script whose stamps are in other slots (it ran nothing): in steps.
                Err(e) if crate::tagged::needs_steps(&Err(e.clone())) => {
                    self.single(&commands[i]).await
                }
                other => other,
            };
            out.push((i, result));
        }
        out
    }

    /// The commands at `indexes` (all in one slot), each sent once the one before has its
    /// answer; stops after a command whose node failed. Reads alone go as one pipeline: their
    /// order does not matter, and a read may be sent again.
    async fn in_order(
        &self,
        commands: &[Command],
        indexes: &[usize],
    ) -> Vec<(usize, Result<Value, RedisError>)> {
        if indexes.len() > 1
            && indexes
                .iter()
                .all(|&i| reads_only(&commands[i].name().to_ascii_uppercase()))
        {
            if let Ok(values) = self.read_pipeline(commands, indexes).await {
                let results = values.into_iter().map(|v| as_result(Ok(v)));
                return indexes.iter().copied().zip(results).collect();
            }
            // (A failure of the pipeline as a whole: each read goes again on its own.)
        }
        let mut out = Vec::with_capacity(indexes.len());
        for &i in indexes {
            let result = self.single(&commands[i]).await;
            let failed = node_failed(&result);
            out.push((i, result));
            if failed {
                break;
            }
        }
        out
    }

    /// Reads of one slot as one pipeline on the reads connection: one value per command.
    async fn read_pipeline(
        &self,
        commands: &[Command],
        indexes: &[usize],
    ) -> Result<Vec<Value>, RedisError> {
        let mut pipe = Pipeline::with_capacity(indexes.len());
        for &i in indexes {
            pipe.add_command(to_cmd(&commands[i]));
        }
        let mut conn = self.reads.get().await?;
        let values = conn.req_packed_commands(&pipe, 0, indexes.len()).await?;
        if values.len() != indexes.len() {
            return Err(RedisError::from((
                ErrorKind::Io,
                "a pipeline answer of the wrong length",
            )));
        }
        Ok(values)
    }
}
