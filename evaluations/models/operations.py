"""What the service knows of its own processes: the heartbeats beat sends and workers handle."""

from django.db import models


class Heartbeat(models.Model):
    """When a process last showed it is alive: ``beat`` when it last sent its periodic
    heartbeat, ``worker`` when a worker last handled one. One row per process kind."""

    class Process(models.TextChoices):
        BEAT = "beat"
        WORKER = "worker"

    process = models.CharField(max_length=16, choices=Process.choices, unique=True)
    at = models.DateTimeField()

    def __str__(self):
        return f"{self.process} at {self.at.isoformat()}"
