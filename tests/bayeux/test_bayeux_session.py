"""Session queue bound and drop policy."""

from services87.bayeux import RequestInfo, Session


def make(max_queue=3):
    return Session("id1", now=10.0, max_queue=max_queue,
                   request=RequestInfo(transport="long-polling", browser_id="b" * 10, session_cookie="s" * 10))


def test_initial_state():
    session = make()
    assert session.created == session.last_seen == 10.0
    assert session.browser_id == "b" * 10 and session.session_cookie == "s" * 10
    assert session.connection_type == "long-polling"
    assert session.queue_size == 0 and session.dropped == 0 and session.max_queue == 3
    assert session.attributes == {} and session.subscriptions == set()


def test_queue_drops_oldest_and_counts():
    session = make()
    dropped = [session.enqueue({"n": n}) for n in range(5)]
    assert dropped == [None, None, None, {"n": 0}, {"n": 1}]
    assert session.dropped == 2 and session.queue_size == 3
    assert session.drain() == [{"n": 2}, {"n": 3}, {"n": 4}]
    assert session.drain() == [] and session.queue_size == 0
