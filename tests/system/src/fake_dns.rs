//! A DNS server on 127.0.0.1 (UDP) that answers TXT questions from records a test sets: what
//! the gateway's custom host check asks (`CUSTOM_HOST_DNS_SERVERS`), in the real protocol.
//! Names it holds no record for are NXDOMAIN; a name with records but none of the asked type
//! answers no records.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hickory_resolver::proto::op::{Message, OpCode, ResponseCode};
use hickory_resolver::proto::rr::rdata::TXT;
use hickory_resolver::proto::rr::{RData, Record, RecordType};
use tokio::net::UdpSocket;

type Records = Arc<Mutex<HashMap<String, Vec<String>>>>;

pub struct FakeDns {
    pub addr: SocketAddr,
    records: Records,
    server: tokio::task::JoinHandle<()>,
}

impl FakeDns {
    pub async fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind UDP");
        let addr = socket.local_addr().expect("local address");
        let records = Records::default();
        let server = tokio::spawn(serve(socket, records.clone()));
        Self {
            addr,
            records,
            server,
        }
    }

    /// Makes `name` (no trailing dot) answer these TXT values, one record each; an empty list
    /// removes the name.
    pub fn set_txt(&self, name: &str, values: &[&str]) {
        let mut records = self.records.lock().expect("records");
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if values.is_empty() {
            records.remove(&name);
        } else {
            records.insert(name, values.iter().map(|v| (*v).to_owned()).collect());
        }
    }
}

impl Drop for FakeDns {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn serve(socket: UdpSocket, records: Records) {
    let mut buffer = vec![0u8; 4096];
    loop {
        let Ok((len, peer)) = socket.recv_from(&mut buffer).await else {
            return;
        };
        let Ok(request) = Message::from_vec(&buffer[..len]) else {
            continue;
        };
        let mut response = Message::response(request.metadata.id, OpCode::Query);
        response.metadata.recursion_desired = request.metadata.recursion_desired;
        response.metadata.recursion_available = true;
        response.metadata.authoritative = true;
        let mut known = true;
        for query in &request.queries {
            response.add_query(query.clone());
            let name = query
                .name()
                .to_ascii()
                .trim_end_matches('.')
                .to_ascii_lowercase();
            let values = records.lock().expect("records").get(&name).cloned();
            match values {
                None => known = false,
                Some(values) if query.query_type() == RecordType::TXT => {
                    for value in values {
                        response.add_answer(Record::from_rdata(
                            query.name().clone(),
                            60,
                            RData::TXT(TXT::new(vec![value])),
                        ));
                    }
                }
                Some(_) => {}
            }
        }
        if !known {
            response.metadata.response_code = ResponseCode::NXDomain;
        }
        if let Ok(bytes) = response.to_vec() {
            let _ = socket.send_to(&bytes, peer).await;
        }
    }
}
