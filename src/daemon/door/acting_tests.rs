//! Who a request acts as, by the token it came with.

use super::{Acting, Key};
use crate::daemon::config::{ActFor, Scope};

fn key(person: Option<&str>, act_for: ActFor, name: Option<&str>) -> Key {
    Key {
        scope: Scope::Staff,
        person: person.map(str::to_string),
        act_for,
        name: name.map(str::to_string),
        digest: "0123456789abcdef".into(),
    }
}

fn acting(by: &str, via: Option<&str>) -> Acting {
    Acting {
        by: Some(by.into()),
        via: via.map(str::to_string),
    }
}

#[test]
fn a_persons_token_acts_as_that_person_and_for_others_only_where_it_may() {
    let anna = key(Some("anna"), ActFor::Nobody, None);
    assert_eq!(anna.acting(None), Ok(acting("anna", None)));
    assert_eq!(anna.acting(Some("anna".into())), Ok(acting("anna", None)));
    assert_eq!(
        anna.acting(Some("petr".into())),
        Err("this token acts as anna".into())
    );
    assert!(!anna.acts_for_others());
    assert!(anna.may_act_for("anna") && !anna.may_act_for("petr"));
    let lead = key(Some("anna"), ActFor::People(vec!["petr".into()]), None);
    assert_eq!(
        lead.acting(Some("petr".into())),
        Ok(acting("petr", Some("anna")))
    );
    assert!(lead.acting(Some("olga".into())).is_err());
    assert!(lead.acts_for_others());
    let office = key(Some("lena"), ActFor::Team, None);
    assert_eq!(
        office.acting(Some("olga".into())),
        Ok(acting("olga", Some("lena")))
    );
}

#[test]
fn a_token_of_no_one_names_anyone_and_is_named_itself() {
    let crm = key(None, ActFor::Nobody, Some("old crm"));
    assert_eq!(
        crm.acting(Some("petr".into())),
        Ok(acting("petr", Some("old crm")))
    );
    assert_eq!(
        crm.acting(None),
        Ok(Acting {
            by: None,
            via: Some("old crm".into())
        })
    );
    let unnamed = key(None, ActFor::Nobody, None);
    assert_eq!(
        unnamed.acting(None).map(|a| a.via),
        Ok(Some("token 01234567".into()))
    );
}
