"""gn.keras.models: Keras' home of the model classes (`from graphnet.keras.models import
Sequential`)."""

from graphnet.keras.model import Model as Model
from graphnet.keras.sequential import Sequential as Sequential
