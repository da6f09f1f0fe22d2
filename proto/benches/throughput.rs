//! Criterion benches of the hot paths: a 1 MiB chunk through the codec (encode, decode) and
//! SHA-256 through the file reader thread. Run with `cargo bench -p ftp-proto`; figures are
//! bytes per second of chunk payload.

// Bench code: a panic is how a broken set-up shows.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ftp_proto::files::filestream;
use ftp_proto::{ClientCodec, ClientMessage, MAX_CHUNK_LEN, ServerCodec};
use tokio_util::codec::{Decoder, Encoder};

fn chunk() -> ClientMessage {
    ClientMessage::Chunk {
        offset: 123_456_789,
        data: Bytes::from(vec![0xa5; MAX_CHUNK_LEN]),
    }
}

fn codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Bytes(MAX_CHUNK_LEN as u64));
    let mut encoder = ClientCodec::default();
    let mut buffer = BytesMut::with_capacity(2 * MAX_CHUNK_LEN);
    group.bench_function("encode 1 MiB chunk", |b| {
        b.iter(|| {
            buffer.clear();
            encoder.encode(chunk(), &mut buffer).unwrap();
        })
    });
    let mut frame = BytesMut::new();
    ClientCodec::default().encode(chunk(), &mut frame).unwrap();
    let frame = frame.freeze();
    let mut decoder = ServerCodec::default();
    group.bench_function("decode 1 MiB chunk", |b| {
        b.iter(|| {
            let mut input = BytesMut::from(&frame[..]);
            decoder.decode(&mut input).unwrap().unwrap()
        })
    });
    group.finish();
}

fn hashing(c: &mut Criterion) {
    const FILE_LEN: usize = 64 << 20;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    std::fs::write(&path, vec![0x5a; FILE_LEN]).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let mut group = c.benchmark_group("hashing");
    group.throughput(Throughput::Bytes(FILE_LEN as u64));
    group.sample_size(10);
    group.bench_function("reader thread, 64 MiB from the page cache", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let file = std::fs::File::open(&path).unwrap();
                let (mut chunks, thread) = filestream::spawn_reader(
                    file,
                    0,
                    FILE_LEN as u64,
                    MAX_CHUNK_LEN,
                    Default::default(),
                );
                while chunks.recv().await.is_some() {}
                thread.await.unwrap().unwrap()
            })
        })
    });
    group.bench_function("hash_file, 64 MiB from the page cache", |b| {
        b.iter(|| filestream::hash_file(&std::fs::File::open(&path).unwrap()).unwrap())
    });
    group.finish();
}

criterion_group!(benches, codec, hashing);
criterion_main!(benches);
