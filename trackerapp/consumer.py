"""The worker's consumer: Celery's own, except that losing the broker does not stop the worker.

On a lost connection, Celery 5.7.0 collects the connection, which detaches its transport,
and then closes it again. A Redis channel whose first close failed on the dead socket then
tries to put its unacknowledged messages back through the detached transport and raises
``AttributeError: 'NoneType' object has no attribute 'hostname'``, which the worker takes as
unrecoverable: it exits. Those messages cannot go back to a broker that is gone (their series
stay due, and the sweep queues them again), so this consumer reconnects instead. Settings name
it as ``CELERY_WORKER_CONSUMER``; only the worker imports it.
"""

import logging

from celery.worker import consumer

logger = logging.getLogger(__name__)


class Consumer(consumer.Consumer):
    def on_connection_error_after_connected(self, exc):
        try:
            super().on_connection_error_after_connected(exc)
        except AttributeError:
            # Celery lets go of the connection just before closing it: an error from
            # anywhere else still stops the worker.
            if self.connection is not None:
                raise
            logger.warning("Closing the lost broker connection failed; reconnecting", exc_info=True)
