//! One PostgreSQL session on a thread of its own.
//!
//! The [`StateBackend`](crate::state::StateBackend) methods are synchronous and are called
//! from inside callform's tokio runtime, where the blocking `postgres` client may not run
//! (it drives a runtime of its own). So each session lives on its own thread, which owns
//! the `postgres::Client`; callers send it jobs and wait for the answer (blocking, or
//! awaiting a oneshot from async code). The session ends — and the server frees every
//! advisory lock it held — when the [`Conn`] is dropped: the thread stops, the client is
//! dropped and the connection closed.

use std::sync::mpsc;
use std::thread;

use postgres::Client;

use super::location::PgLocation;

type Job = Box<dyn FnOnce(&mut Client) + Send>;

/// A dedicated session: never a pooled connection, so a session-level advisory lock taken
/// on it is held exactly as long as this value lives.
#[derive(Debug)]
pub(crate) struct Conn {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<thread::JoinHandle<()>>,
    /// The server process serving this session (`pg_backend_pid()`).
    pub(crate) backend_pid: i32,
}

impl Conn {
    /// Connects (TLS as the location says) and starts the session's thread.
    pub(crate) fn open(location: &PgLocation) -> Result<Conn, String> {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready, ready_rx) = mpsc::channel::<Result<i32, String>>();
        let location = location.clone();
        let thread = thread::Builder::new()
            .name("callform-pg".into())
            .spawn(move || {
                let mut client = match location.connect() {
                    Ok(client) => client,
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                let pid = client
                    .query_one("SELECT pg_backend_pid()", &[])
                    .map(|row| row.get::<_, i32>(0))
                    .map_err(|e| super::describe(&e));
                let ok = pid.is_ok();
                let _ = ready.send(pid);
                if !ok {
                    return;
                }
                while let Ok(job) = inbox.recv() {
                    job(&mut client);
                }
            })
            .map_err(|e| format!("cannot start a thread: {e}"))?;
        let backend_pid = ready_rx
            .recv()
            .map_err(|_| "the session's thread stopped".to_string())??;
        Ok(Conn {
            jobs: Some(jobs),
            thread: Some(thread),
            backend_pid,
        })
    }

    /// Runs `job` on the session and waits for it (blocking the calling thread).
    pub(crate) fn run<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Client) -> R + Send + 'static,
    ) -> Result<R, String> {
        let (answer, answered) = mpsc::channel();
        self.send(Box::new(move |client| {
            let _ = answer.send(job(client));
        }))?;
        answered
            .recv()
            .map_err(|_| "the database session ended".to_string())
    }

    /// Runs `job` on the session; the future resolves with its answer.
    pub(crate) async fn run_async<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Client) -> R + Send + 'static,
    ) -> Result<R, String> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.send(Box::new(move |client| {
            let _ = answer.send(job(client));
        }))?;
        answered
            .await
            .map_err(|_| "the database session ended".to_string())
    }

    /// Queues `job` on the session without waiting for it.
    pub(crate) fn spawn(
        &self,
        job: impl FnOnce(&mut Client) + Send + 'static,
    ) -> Result<(), String> {
        self.send(Box::new(job))
    }

    fn send(&self, job: Job) -> Result<(), String> {
        self.jobs
            .as_ref()
            .ok_or("the database session is closed")?
            .send(job)
            .map_err(|_| "the database session ended".to_string())
    }
}

impl Drop for Conn {
    /// Waits for the thread, so the connection is closed when the drop returns.
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
