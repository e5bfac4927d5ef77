//! The broker baseline: raw QoS 1 messages per second through the same broker, one publisher
//! and one plain subscriber on a topic outside `eldercare/` that nobody else reads, with
//! payloads the size of the run's batches.

use std::time::{Duration, Instant};

use eldercare_gateway::mqtt::MqttUrl;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("broker baseline: {0}")]
    Mqtt(String),
    #[error("broker baseline: only {got} of {want} messages arrived within {secs} s")]
    Incomplete { got: u64, want: u64, secs: u64 },
}

fn client(id: String, broker: &MqttUrl, credentials: Option<&(String, String)>) -> (AsyncClient, rumqttc::EventLoop) {
    let mut opts = MqttOptions::new(id, broker.host.clone(), broker.port);
    opts.set_keep_alive(Duration::from_secs(30)).set_clean_session(true).set_max_packet_size(1 << 20, 1 << 20);
    if let Some((u, p)) = credentials {
        opts.set_credentials(u.clone(), p.clone());
    }
    let (c, mut el) = AsyncClient::new(opts, 1024);
    let mut net = rumqttc::NetworkOptions::new();
    net.set_tcp_nodelay(true);
    net.set_connection_timeout(5);
    el.set_network_options(net);
    (c, el)
}

/// Publishes `messages` QoS 1 messages of `payload_bytes` and returns messages per second as
/// received by the subscriber (first publish to last arrival).
pub async fn broker_messages_per_s(
    broker: &MqttUrl,
    credentials: Option<&(String, String)>,
    tag: &str,
    messages: u64,
    payload_bytes: usize,
) -> Result<f64, BaselineError> {
    let topic = format!("eldercare-loadgen/{tag}/baseline");
    let (sub, mut sub_loop) = client(format!("loadgen-{tag}-bsub"), broker, credentials);
    sub.subscribe(&topic, QoS::AtLeastOnce).await.map_err(|e| BaselineError::Mqtt(e.to_string()))?;
    // Wait for the subscription to be in place before publishing.
    let ready = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match sub_loop.poll().await {
                Ok(Event::Incoming(Packet::SubAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(BaselineError::Mqtt(e.to_string())),
            }
        }
    })
    .await
    .map_err(|_| BaselineError::Mqtt("no SUBACK within 10 s".into()))?;
    ready?;
    let (publ, mut pub_loop) = client(format!("loadgen-{tag}-bpub"), broker, credentials);
    let pub_driver = tokio::spawn(async move { while pub_loop.poll().await.is_ok() {} });
    let payload = vec![b'x'; payload_bytes.max(16)];
    let start = Instant::now();
    let publisher = tokio::spawn(async move {
        for _ in 0..messages {
            if publ.publish(&topic, QoS::AtLeastOnce, false, payload.clone()).await.is_err() {
                break;
            }
        }
        publ
    });
    let limit = Duration::from_secs(120);
    let mut got = 0u64;
    let received = tokio::time::timeout(limit, async {
        while got < messages {
            match sub_loop.poll().await {
                Ok(Event::Incoming(Packet::Publish(_))) => got += 1,
                Ok(_) => {}
                Err(e) => return Err(BaselineError::Mqtt(e.to_string())),
            }
        }
        Ok(start.elapsed())
    })
    .await;
    let publ = publisher.await.ok();
    if let Some(p) = publ {
        let _ = p.disconnect().await;
    }
    let _ = sub.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(1), pub_driver).await;
    match received {
        Ok(Ok(elapsed)) => Ok(messages as f64 / elapsed.as_secs_f64().max(1e-9)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(BaselineError::Incomplete { got, want: messages, secs: limit.as_secs() }),
    }
}
