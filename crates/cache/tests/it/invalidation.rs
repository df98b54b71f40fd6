use std::convert::Infallible;

use cache::KeyKind;
use uuid::Uuid;

use crate::support::{
    AgentsKey, Branding, BrandingKey, Calls, FeaturesKey, PrincipalKey, Quotas, QuotasKey,
    StripeSettingsKey, TestCache,
};

#[tokio::test]
async fn after_invalidate_the_next_read_calls_the_loader() {
    let t = TestCache::new().await;
    let key = BrandingKey::key(&Uuid::new_v4());
    let calls = Calls::default();
    let read = |name: &str| {
        t.cache.get_or_load(
            &key,
            calls.load::<_, Infallible>(Some(Branding::named(name))),
        )
    };

    assert_eq!(read("v1").await, Ok(Some(Branding::named("v1"))));
    assert_eq!(read("v2").await, Ok(Some(Branding::named("v1"))));
    t.cache.invalidate(&key).await.unwrap();
    assert_eq!(read("v3").await, Ok(Some(Branding::named("v3"))));
    assert_eq!(calls.count(), 2);
}

#[tokio::test]
async fn invalidate_many_deletes_entries_of_several_kinds() {
    let t = TestCache::new().await;
    let user = Uuid::new_v4();
    let quotas = QuotasKey::key(&user);
    let features = FeaturesKey::key(&user);
    let q = Quotas {
        messages_per_day: 5,
    };
    t.cache
        .get_or_load(&quotas, async { Ok::<_, Infallible>(Some(q.clone())) })
        .await
        .unwrap();
    t.cache
        .get_or_load(&features, async {
            Ok::<_, Infallible>(Some(vec!["bulk".to_owned()]))
        })
        .await
        .unwrap();

    t.cache
        .invalidate_many([
            KeyKind::UserQuotas.key(user),
            KeyKind::UserFeatures.key(user),
            KeyKind::UserSubscription.key(user),
        ])
        .await
        .unwrap();

    assert!(!t.exists(&t.cache.redis_key(&quotas)).await);
    assert!(!t.exists(&t.cache.redis_key(&features)).await);
}

#[tokio::test]
async fn invalidate_tenant_removes_every_entry_indexed_for_it_and_nothing_else() {
    let t = TestCache::new().await;
    let (tenant, other_tenant) = (Uuid::new_v4(), Uuid::new_v4());
    let (user, other_user, unindexed_user) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let account = 7001;
    let q = Quotas {
        messages_per_day: 1,
    };

    let branding = BrandingKey::key(&tenant);
    let stripe = StripeSettingsKey::key(&tenant);
    let quotas = QuotasKey::key(&user).for_tenant(tenant);
    let agents = AgentsKey::key(&account).for_tenant(tenant);
    let principal = PrincipalKey::key("hash-of-tenant-key").for_tenant(tenant);
    let absent_features = FeaturesKey::key(&user).for_tenant(tenant);
    let other_branding = BrandingKey::key(&other_tenant);
    let other_quotas = QuotasKey::key(&other_user).for_tenant(other_tenant);
    let unindexed_quotas = QuotasKey::key(&unindexed_user);

    let ok = |name: &str| {
        let branding = Branding::named(name);
        async move { Ok::<_, Infallible>(Some(branding)) }
    };
    t.cache.get_or_load(&branding, ok("a")).await.unwrap();
    t.cache.get_or_load(&other_branding, ok("b")).await.unwrap();
    t.cache
        .get_or_load(&stripe, async {
            Ok::<_, Infallible>(Some("acct_1".to_owned()))
        })
        .await
        .unwrap();
    for key in [&quotas, &other_quotas, &unindexed_quotas] {
        t.cache
            .get_or_load(key, async { Ok::<_, Infallible>(Some(q.clone())) })
            .await
            .unwrap();
    }
    t.cache
        .get_or_load(&agents, async {
            Ok::<_, Infallible>(Some(vec!["ana".to_owned()]))
        })
        .await
        .unwrap();
    t.cache
        .get_or_load(&principal, async { Ok::<_, Infallible>(Some(user)) })
        .await
        .unwrap();
    t.cache
        .get_or_load(&absent_features, async { Ok::<_, Infallible>(None) })
        .await
        .unwrap();
    let index = t.cache.tenant_index_key(tenant);
    assert!(t.pttl(&index).await > 0, "the index expires on its own");

    let deleted = t.cache.invalidate_tenant(tenant).await.unwrap();

    assert_eq!(deleted, 6);
    for gone in [
        t.cache.redis_key(&branding),
        t.cache.redis_key(&stripe),
        t.cache.redis_key(&quotas),
        t.cache.redis_key(&agents),
        t.cache.redis_key(&principal),
        t.cache.redis_key(&absent_features),
        index,
    ] {
        assert!(!t.exists(&gone).await, "{gone} should be gone");
    }
    for kept in [
        t.cache.redis_key(&other_branding),
        t.cache.redis_key(&other_quotas),
        t.cache.redis_key(&unindexed_quotas),
        t.cache.tenant_index_key(other_tenant),
    ] {
        assert!(t.exists(&kept).await, "{kept} should remain");
    }

    let calls = Calls::default();
    let reloaded = t
        .cache
        .get_or_load(
            &branding,
            calls.load::<_, Infallible>(Some(Branding::named("new"))),
        )
        .await
        .unwrap();
    assert_eq!(reloaded, Some(Branding::named("new")));
    assert_eq!(calls.count(), 1);
    assert_eq!(t.cache.invalidate_tenant(Uuid::new_v4()).await.unwrap(), 0);
}
